# Copyright (c) vicmae_mm contributors. All rights reserved.
"""A plain, unoptimised implementation of the ViC-MAE objective.

It is the yardstick of ``tools/analysis/benchmark_pretrain.py`` and of the
equivalence tests: the straightforward way to write ViC-MAE, sharing the
weights of a built :class:`~vicmae_mm.models.ViCMAE`:

- each view is encoded and decoded on its own (two encoder and two decoder
  passes per step);
- attention is unfused: ``softmax(q @ k.T * scale) @ v`` with explicit
  matmuls, every linear layer is ``F.linear`` (PyTorch's default BLAS);
- masking and unshuffling use ``torch.gather`` with ``repeat``-ed indices,
  patchify uses ``einsum``, as in the original MAE code;
- everything runs in fp32.

Given the same masking noise it computes the same losses and gradients as
``ViCMAE.loss`` up to float rounding. The projector (BatchNorm over both
views, as in the model) and the InfoNCE head are called as modules: they
are tiny and their batch coupling is part of the objective.
"""
from typing import Dict, Optional, Sequence

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmcv.cnn.bricks.transformer import FFN
from mmengine.dist import get_dist_info
from mmpretrain.models.backbones.vision_transformer import \
    TransformerEncoderLayer
from mmpretrain.models.utils.attention import MultiheadAttention

from vicmae_mm.models.backbones.fast_vit_block import \
    FastTransformerEncoderLayer


def _is_noop_dropout(module: nn.Module, training: bool) -> bool:
    if isinstance(module, nn.Identity):
        return True
    prob = getattr(module, 'drop_prob', getattr(module, 'p', None))
    return prob is not None and (prob == 0 or not training)


def is_plain_vit_block(layer: nn.Module) -> bool:
    """Whether ``layer`` computes a plain pre-norm ViT block in its current
    mode (GELU MLP, no layer scale, no active dropout / drop-path): what the
    plain reference implementation accepts."""
    if isinstance(layer, FastTransformerEncoderLayer):
        return layer.uses_fast_forward
    if type(layer) is not TransformerEncoderLayer:
        return False
    attn, ffn, train = layer.attn, layer.ffn, layer.training
    if not (type(layer.ln1) is nn.LayerNorm and type(layer.ln2) is nn.LayerNorm
            and type(attn) is MultiheadAttention and type(ffn) is FFN
            and not attn.v_shortcut and attn.input_dims == attn.embed_dims and
            attn.scaled_dot_product_attention is F.scaled_dot_product_attention
            and isinstance(attn.gamma1, nn.Identity) and isinstance(
                ffn.gamma2, nn.Identity) and not (attn.attn_drop and train)
            and len(ffn.layers) == 3 and len(ffn.layers[0]) == 3):
        return False
    first = ffn.layers[0]
    drops = (attn.proj_drop, attn.out_drop, ffn.dropout_layer, ffn.layers[2],
             first[2])
    return (all(_is_noop_dropout(m, train) for m in drops)
            and type(first[1]) is nn.GELU and first[1].approximate == 'none'
            and isinstance(first[0], nn.Linear)
            and isinstance(ffn.layers[1], nn.Linear))


def _layer_norm(x: torch.Tensor, norm: nn.LayerNorm) -> torch.Tensor:
    return F.layer_norm(x, norm.normalized_shape, norm.weight, norm.bias,
                        norm.eps)


def reference_block(layer: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """One pre-norm ViT block with explicit, unfused attention.

    Args:
        layer (nn.Module): An mmpretrain ``TransformerEncoderLayer`` (no
            layer scale, no active dropout / drop-path).
        x (torch.Tensor): ``(B, N, C)`` tokens.

    Returns:
        torch.Tensor: ``(B, N, C)``.
    """
    attn, ffn = layer.attn, layer.ffn
    B, N, C = x.shape
    heads, dim = attn.num_heads, attn.head_dims
    h = _layer_norm(x, layer.ln1)
    qkv = F.linear(h, attn.qkv.weight, attn.qkv.bias)
    qkv = qkv.reshape(B, N, 3, heads, dim).permute(2, 0, 3, 1, 4)
    q, k, v = qkv[0], qkv[1], qkv[2]
    weights = torch.softmax((q @ k.transpose(-2, -1)) * dim**-0.5, dim=-1)
    out = (weights @ v).transpose(1, 2).reshape(B, N, C)
    x = x + F.linear(out, attn.proj.weight, attn.proj.bias)
    h = _layer_norm(x, layer.ln2)
    fc1, fc2 = ffn.layers[0][0], ffn.layers[1]
    h = F.gelu(F.linear(h, fc1.weight, fc1.bias))
    return x + F.linear(h, fc2.weight, fc2.bias)


class ReferenceViCMAE:
    """The ViC-MAE loss computed the plain way, on a model's weights.

    Args:
        model (ViCMAE): A built ViC-MAE model (``ViCMAEViT`` encoder, an
            MAE pretraining decoder, ``MAEPretrainHead``). Its parameters
            are used, not copied, so gradients land on the model.

    Raises:
        ValueError: If a block uses something the reference does not
            implement (layer scale, active dropout / drop-path, ...).
    """

    def __init__(self, model: nn.Module) -> None:
        self.model = model
        blocks = [(f'backbone.layers.{i}', b)
                  for i, b in enumerate(model.backbone.layers)]
        blocks += [(f'neck.decoder_blocks.{i}', b)
                   for i, b in enumerate(model.neck.decoder_blocks)]
        for name, block in blocks:
            if not is_plain_vit_block(block):
                raise ValueError(
                    f'ReferenceViCMAE: {name} is not a plain pre-norm ViT '
                    'block (layer scale, dropout or drop-path in training?)')

    def encode(self, images: torch.Tensor, noise: torch.Tensor):
        """Masked encoding of one view.

        Args:
            images (torch.Tensor): ``(B, 3, H, W)``.
            noise (torch.Tensor): ``(B, L)``; the lowest scores are kept.

        Returns:
            tuple: tokens ``(B, 1 + L_keep, C)``, mask ``(B, L)`` (1 =
            dropped), ``ids_restore`` ``(B, L)``.
        """
        enc = self.model.backbone
        proj = enc.patch_embed.projection
        x = F.conv2d(images, proj.weight, proj.bias, stride=proj.stride)
        x = x.flatten(2).transpose(1, 2)
        x = x + enc.pos_embed[:, 1:, :]
        B, L, C = x.shape
        keep = int(L * (1 - enc.mask_ratio))
        ids_shuffle = torch.argsort(noise, dim=1)
        ids_restore = torch.argsort(ids_shuffle, dim=1)
        ids_keep = ids_shuffle[:, :keep]
        x = torch.gather(x, 1, ids_keep.unsqueeze(-1).repeat(1, 1, C))
        mask = torch.ones(B, L, device=x.device)
        mask[:, :keep] = 0
        mask = torch.gather(mask, 1, ids_restore)
        cls = (enc.cls_token + enc.pos_embed[:, :1, :]).expand(B, -1, -1)
        x = torch.cat([cls, x], dim=1)
        for layer in enc.layers:
            x = reference_block(layer, x)
        return _layer_norm(x, enc.ln1), mask, ids_restore

    def decode(self, x: torch.Tensor,
               ids_restore: torch.Tensor) -> torch.Tensor:
        """Pixel predictions ``(B, L, p*p*3)`` of one view."""
        dec = self.model.neck
        x = F.linear(x, dec.decoder_embed.weight, dec.decoder_embed.bias)
        B, L = ids_restore.shape
        D = x.shape[-1]
        mask_tokens = dec.mask_token.repeat(B, L + 1 - x.shape[1], 1)
        x_ = torch.cat([x[:, 1:], mask_tokens], dim=1)
        x_ = torch.gather(x_, 1, ids_restore.unsqueeze(-1).repeat(1, 1, D))
        x = torch.cat([x[:, :1], x_], dim=1) + dec.decoder_pos_embed
        for layer in dec.decoder_blocks:
            x = reference_block(layer, x)
        # the cls token's prediction is never used: predict patches only
        x = _layer_norm(x[:, 1:], dec.decoder_norm)
        return F.linear(x, dec.decoder_pred.weight, dec.decoder_pred.bias)

    def reconstruction_terms(self, pred: torch.Tensor, images: torch.Tensor,
                             mask: torch.Tensor):
        """Sum of per-patch errors over masked patches, and their count."""
        head = self.model.head
        p, c = head.patch_size, head.in_channels
        B, _, H, W = images.shape
        target = images.reshape(B, c, H // p, p, W // p, p)
        target = torch.einsum('nchpwq->nhwpqc',
                              target).reshape(B, (H // p) * (W // p),
                                              p * p * c)
        if head.norm_pix:
            mean = target.mean(dim=-1, keepdim=True)
            var = target.var(dim=-1, keepdim=True)
            target = (target - mean) / (var + 1.e-6)**.5
        error = head.loss_module.penalty(pred, target).mean(dim=-1)
        return (error * mask).sum(), mask.sum()

    def loss(
            self,
            inputs: Sequence[torch.Tensor],
            mask_noise: Optional[torch.Tensor] = None
    ) -> Dict[str, torch.Tensor]:
        """The ViC-MAE losses, as returned by ``ViCMAE.loss``.

        Args:
            inputs (Sequence[torch.Tensor]): ``[view1, view2]``, each
                ``(B, 3, H, W)``, already normalised.
            mask_noise (torch.Tensor, optional): ``(2B, L)`` masking noise,
                view 1 rows first (the layout ``ViCMAE.loss`` takes).

        Returns:
            Dict[str, torch.Tensor]: ``loss_rec``, and with the contrastive
            branch ``loss_nce`` and ``nce_acc``.
        """
        if get_dist_info()[1] > 1:
            raise RuntimeError('ReferenceViCMAE runs in one process only')
        model = self.model
        view1, view2 = inputs
        b = view1.shape[0]
        if mask_noise is None:
            mask_noise = torch.rand(
                2 * b, model.backbone.num_patches, device=view1.device)
        err_sum, count, pooled = 0., 0., []
        for i, view in enumerate((view1, view2)):
            tokens, mask, ids_restore = self.encode(
                view, mask_noise[i * b:(i + 1) * b])
            pred = self.decode(tokens, ids_restore)
            err, num = self.reconstruction_terms(pred, view, mask)
            err_sum, count = err_sum + err, count + num
            if model.with_contrastive:
                pooled.append(model.pool(tokens))
        channel = model.head.loss_module.channel
        losses = {
            'loss_rec': model.loss_weights['rec'] * err_sum / count / channel
        }
        if model.with_contrastive:
            # BatchNorm statistics over both views, as in ViCMAE.loss
            z = model.projector((torch.cat(pooled), ))[0]
            loss_nce, acc = model.contrastive_head.loss(z[:b], z[b:])
            losses['loss_nce'] = model.loss_weights['nce'] * loss_nce
            losses['nce_acc'] = acc
        return losses
