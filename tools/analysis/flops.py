# Copyright (c) vicmae_mm contributors. All rights reserved.
"""Exact analytic FLOP count of one ViC-MAE training step.

Counts the multiply-adds of every matrix product the objective needs
(2 FLOPs each), forward and backward, for a built
:class:`~vicmae_mm.models.ViCMAE`:

- patch embedding (a GEMM of ``L`` patches by ``3p^2 -> C``; backward only
  for the weight: images need no gradient);
- encoder blocks on ``1 + L_keep`` tokens, decoder blocks on ``1 + L``
  tokens: qkv, output projection, the two MLP GEMMs, and attention's
  ``q @ k.T`` and ``weights @ v``;
- decoder embedding (``1 + L_keep`` tokens) and pixel predictor (``L``
  patch tokens; the cls prediction is not needed);
- projector GEMMs over ``2B`` pooled vectors, InfoNCE's similarity matrix.

Backward of a GEMM is two GEMMs of the same size (input and weight
gradients), so 2x forward; attention's backward is 2x its forward too
(no recomputation counted). Element-wise work (norms, softmax, GELU,
losses, the optimizer) is not counted: this is the usual "model FLOPs"
convention for MFU, and the number matches
``torch.utils.flop_counter.FlopCounterMode`` on the reference
implementation (``tests/test_perf``).
"""
from collections import OrderedDict
from typing import Dict

import torch.nn as nn


def _gemm(m: int, k: int, n: int) -> int:
    return 2 * m * k * n


def _block_flops(tokens: int, seqs: int, dims: int, hidden: int,
                 num_layers: int) -> Dict[str, int]:
    """Forward FLOPs of ``num_layers`` ViT blocks over ``seqs`` sequences of
    ``tokens`` tokens each."""
    m = seqs * tokens
    linear = (
        _gemm(m, dims, 3 * dims) + _gemm(m, dims, dims) +
        _gemm(m, dims, hidden) + _gemm(m, hidden, dims))
    # q @ k.T and weights @ v summed over heads: 2 * N^2 * C each
    attention = 2 * seqs * _gemm(tokens, dims, tokens)
    return dict(linear=num_layers * linear, attention=num_layers * attention)


def vicmae_step_flops(model: nn.Module, batch_pairs: int) -> Dict[str, int]:
    """FLOPs of one training step (forward + backward) of ``model``.

    Args:
        model (ViCMAE): A built model with a ``ViCMAEViT`` encoder, an MAE
            pretraining decoder and (optionally) the contrastive branch
            with ``mean``/``max``/``gem``/``cls`` pooling.
        batch_pairs (int): Pairs per step (``2 * batch_pairs`` images).

    Returns:
        Dict[str, int]: Forward FLOPs per part (``patch_embed``,
        ``encoder_linear``, ``encoder_attention``, ``decoder_embed``,
        ``decoder_linear``, ``decoder_attention``, ``decoder_pred``,
        ``projector``, ``infonce``), then ``forward``, ``backward`` and
        ``total``.
    """
    enc, dec = model.backbone, model.neck
    images = 2 * batch_pairs
    L = enc.num_patches
    keep = int(L * (1 - enc.mask_ratio))
    C = enc.embed_dims
    proj = enc.patch_embed.projection
    patch_in = proj.in_channels * proj.kernel_size[0] * proj.kernel_size[1]
    enc_hidden = enc.layers[0].ffn.layers[0][0].out_features
    D = dec.decoder_embed.out_features
    dec_hidden = dec.decoder_blocks[0].ffn.layers[0][0].out_features

    fwd = OrderedDict()
    fwd['patch_embed'] = _gemm(images * L, patch_in, C)
    blocks = _block_flops(1 + keep, images, C, enc_hidden, len(enc.layers))
    fwd['encoder_linear'] = blocks['linear']
    fwd['encoder_attention'] = blocks['attention']
    fwd['decoder_embed'] = _gemm(images * (1 + keep), C, D)
    blocks = _block_flops(1 + L, images, D, dec_hidden,
                          len(dec.decoder_blocks))
    fwd['decoder_linear'] = blocks['linear']
    fwd['decoder_attention'] = blocks['attention']
    fwd['decoder_pred'] = _gemm(images * L, D, dec.decoder_pred.out_features)

    fwd['projector'] = fwd['infonce'] = 0
    # backward of every GEMM except the patch embedding doubles its cost;
    # the patch embedding needs the weight gradient only
    backward = 2 * sum(fwd.values()) - fwd['patch_embed']
    if getattr(model, 'with_contrastive', False):
        pool = getattr(model, 'pool_neck', None)
        if pool is not None and getattr(pool, 'pool_type', 'mean') == 'attn':
            raise NotImplementedError(
                'vicmae_step_flops: attention pooling is not counted')
        proj_flops = sum(
            _gemm(images, m.in_features, m.out_features)
            for m in model.projector.modules() if isinstance(m, nn.Linear))
        out_dim = [
            m for m in model.projector.modules() if isinstance(m, nn.Linear)
        ][-1].out_features
        # (2b, D) queries against 2b keys (one process)
        nce = _gemm(images, out_dim, images)
        fwd['projector'], fwd['infonce'] = proj_flops, nce
        # the query and key operands of the logits both need gradients
        backward += 2 * proj_flops + 2 * nce
    result = OrderedDict(fwd)
    result['forward'] = sum(fwd.values())
    result['backward'] = backward
    result['total'] = result['forward'] + backward
    return result
