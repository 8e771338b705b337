# Copyright (c) vicmae_mm contributors. All rights reserved.
"""ViTDet backbone for mmdet: mmpretrain's ``ViTSAM`` for ViC-MAE weights."""
from typing import Optional, Sequence, Tuple, Union

import numpy as np
import torch
import torch.nn.functional as F
from mmcv.cnn.bricks.drop import build_dropout
from mmdet.registry import MODELS
from mmengine.logging import print_log
from mmengine.model import ModuleList
from mmengine.utils import to_2tuple
from mmpretrain.models.backbones.vision_transformer import VisionTransformer
from mmpretrain.models.backbones.vit_sam import (Attention,
                                                 TransformerEncoderLayer,
                                                 ViTSAM, get_rel_pos,
                                                 window_partition,
                                                 window_unpartition)
from torch.utils.checkpoint import checkpoint

from vicmae_mm.models.backbones.vicmae_vit import ViCMAEViT
from vicmae_mm.models.utils.pretrained_vit import (resolve_arch,
                                                   split_cls_position)


class RelPosAttention(Attention):
    """ViTSAM's ``Attention`` (same arguments and keys) by SDPA, with the
    decomposed relative bias as its mask (about 3x faster than ViTSAM's on
    CPU for a 64x64 grid)."""

    def __init__(self,
                 embed_dims: int,
                 num_heads: int = 8,
                 qkv_bias: bool = True,
                 use_rel_pos: bool = False,
                 input_size: Optional[Tuple[int, int]] = None) -> None:
        if embed_dims % num_heads:
            raise ValueError(f'RelPosAttention: embed_dims {embed_dims} is '
                             f'not divisible by num_heads {num_heads}')
        if use_rel_pos and input_size is None:
            raise ValueError('RelPosAttention: input_size is required when '
                             'use_rel_pos=True')
        super().__init__(embed_dims, num_heads, qkv_bias, use_rel_pos,
                         input_size)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Attend over tokens ``(B, H, W, C)``; same shape out."""
        B, H, W, C = x.shape
        qkv = self.qkv(x).reshape(B, H * W, 3, self.num_heads, -1)
        q, k, v = qkv.permute(2, 0, 3, 1, 4).unbind(0)
        bias = None
        if self.use_rel_pos:
            # ViTSAM's q.R_h[qh, kh] + q.R_w[qw, kw], as SDPA's mask
            rel_h = get_rel_pos(H, H, self.rel_pos_h).to(q.dtype)
            rel_w = get_rel_pos(W, W, self.rel_pos_w).to(q.dtype)
            grid_q = q.reshape(B, self.num_heads, H, W, -1)
            bias_h = torch.einsum('bnhwc,hkc->bnhwk', grid_q, rel_h)
            bias_w = torch.einsum('bnhwc,wkc->bnhwk', grid_q, rel_w)
            bias = (bias_h[..., :, None] + bias_w[..., None, :]).reshape(
                B, self.num_heads, H * W, H * W)
        out = F.scaled_dot_product_attention(q, k, v, attn_mask=bias)
        return self.proj(out.transpose(1, 2).reshape(B, H, W, C))


class ViTDetLayer(TransformerEncoderLayer):
    """ViTSAM's encoder layer (same arguments and keys) as ViTDet trains it:
    drop path on both branches (ViTSAM: MLP only), SDPA attention and, with
    ``with_cp``, activation checkpointing while training."""

    def __init__(self,
                 embed_dims: int,
                 num_heads: int,
                 feedforward_channels: int,
                 drop_path_rate: float = 0.,
                 qkv_bias: bool = True,
                 use_rel_pos: bool = False,
                 window_size: int = 0,
                 input_size: Optional[Tuple[int, int]] = None,
                 with_cp: bool = False,
                 **kwargs) -> None:
        super().__init__(
            embed_dims,
            num_heads,
            feedforward_channels,
            drop_path_rate=drop_path_rate,
            qkv_bias=qkv_bias,
            use_rel_pos=use_rel_pos,
            window_size=window_size,
            input_size=input_size,
            **kwargs)
        # ViTSAM's layer names its attention class: swap in SDPA's
        self.attn = RelPosAttention(
            embed_dims, num_heads, qkv_bias, use_rel_pos,
            (window_size, window_size) if window_size else input_size)
        self.drop_path = build_dropout(
            dict(type='DropPath', drop_prob=drop_path_rate))
        self.with_cp = with_cp

    def _forward(self, x: torch.Tensor) -> torch.Tensor:
        shortcut = x
        x = self.ln1(x)
        if self.window_size > 0:
            hw = x.shape[1:3]
            x, padded_hw = window_partition(x, self.window_size)
            x = window_unpartition(
                self.attn(x), self.window_size, padded_hw, hw)
        else:
            x = self.attn(x)
        x = shortcut + self.drop_path(x)
        return self.ffn(self.ln2(x), identity=x)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Run the layer on tokens ``(B, H, W, C)``; same shape out."""
        if self.with_cp and self.training:
            return checkpoint(self._forward, x, use_reentrant=False)
        return self._forward(x)


@MODELS.register_module()
class ViTDet(ViTSAM):
    """Plain ViT backbone for detection (`ViTDet
    <https://arxiv.org/abs/2203.16527>`_) on mmpretrain's ``ViTSAM``.

    Returns the last block's map (stride ``patch_size``) for a
    :class:`SimpleFeaturePyramid`; loads a ViC-MAE checkpoint with
    ``prefix='backbone.'`` (what it adapts: docs/benchmarks/mmdet.md).

    Args:
        arch (str | dict): Name in ``arch_zoo`` or dict (may add
            ``global_attn_indexes``).
        img_size (int | tuple): Nominal input size (sizes the embeddings).
        patch_size (int): Patch size (must match the checkpoint).
        in_channels (int): Image channels.
        window_size (int): Window side of windowed blocks; 0: all global.
        global_attn_indexes (Sequence[int], optional): Global blocks
            (default: the arch's, else the last of each quarter).
        use_rel_pos (bool): Decomposed relative positions.
        qkv_bias (bool): Bias in qkv.
        drop_rate (float): Dropout after position embedding and MLPs.
        drop_path_rate (float): Maximum stochastic depth (linear over blocks).
        norm_cfg (dict): Block norms.
        act_cfg (dict): MLP activation.
        interpolate_mode (str): Position-embedding interpolation.
        with_cp (bool): Activation checkpointing of every block in training.
        frozen_stages (int): Embeddings and this many blocks frozen (eval).
        init_cfg (dict | list, optional): Default: ViTDet's Linear/LN init.
    """

    arch_zoo = ViCMAEViT.arch_zoo
    # patch/position embeddings 0, block i at i + 1, neck and heads last
    get_layer_depth = VisionTransformer.get_layer_depth

    def __init__(self,
                 arch: Union[str, dict] = 'base',
                 img_size: Union[int, Sequence[int]] = 1024,
                 patch_size: int = 16,
                 in_channels: int = 3,
                 window_size: int = 14,
                 global_attn_indexes: Optional[Sequence[int]] = None,
                 use_rel_pos: bool = True,
                 qkv_bias: bool = True,
                 drop_rate: float = 0.,
                 drop_path_rate: float = 0.1,
                 norm_cfg: dict = dict(type='LN', eps=1e-6),
                 act_cfg: dict = dict(type='GELU'),
                 interpolate_mode: str = 'bicubic',
                 with_cp: bool = False,
                 frozen_stages: int = -1,
                 init_cfg: Optional[Union[dict, list]] = None) -> None:
        settings = resolve_arch('ViTDet', arch, self.arch_zoo)
        depth = settings['num_layers']
        if global_attn_indexes is None:
            global_attn_indexes = settings.get('global_attn_indexes')
        if global_attn_indexes is None:
            quarter = depth // 4
            global_attn_indexes = range(quarter - 1, 4 * quarter,
                                        quarter) if quarter else [depth - 1]
        global_attn_indexes = tuple(i + depth if i < 0 else i
                                    for i in global_attn_indexes)
        bad = [i for i in global_attn_indexes if not 0 <= i < depth]
        if bad:
            raise ValueError(f'ViTDet: global_attn_indexes {bad} out of range '
                             f'for {depth} layers')
        if window_size < 0:
            raise ValueError(
                f'ViTDet: window_size must be >= 0, got {window_size}')
        sizes = tuple(to_2tuple(img_size))
        if any(s % patch_size for s in sizes):
            raise ValueError(f'ViTDet: img_size {img_size} is not divisible '
                             f'by patch_size {patch_size}')
        if not -1 <= frozen_stages <= depth:
            raise ValueError(f'ViTDet: frozen_stages must be in [-1, {depth}]'
                             f', got {frozen_stages}')
        if init_cfg is None:
            init_cfg = [
                dict(type='TruncNormal', layer='Linear', std=0.02, bias=0.),
                dict(type='Constant', layer='LayerNorm', val=1., bias=0.)
            ]
        super().__init__(
            arch=dict(settings, global_attn_indexes=global_attn_indexes),
            img_size=sizes,
            patch_size=patch_size,
            in_channels=in_channels,
            out_channels=0,
            drop_rate=drop_rate,
            drop_path_rate=drop_path_rate,
            qkv_bias=qkv_bias,
            use_rel_pos=use_rel_pos,
            window_size=window_size,
            norm_cfg=norm_cfg,
            interpolate_mode=interpolate_mode,
            init_cfg=init_cfg)
        # ViTSAM names its layer class itself: swap in ViTDet's (same keys)
        dpr = np.linspace(0, drop_path_rate, depth)
        self.layers = ModuleList(
            ViTDetLayer(
                embed_dims=self.embed_dims,
                num_heads=settings['num_heads'],
                feedforward_channels=settings['feedforward_channels'],
                drop_rate=drop_rate,
                drop_path_rate=float(dpr[i]),
                qkv_bias=qkv_bias,
                act_cfg=act_cfg,
                norm_cfg=norm_cfg,
                use_rel_pos=use_rel_pos,
                window_size=0 if i in global_attn_indexes else window_size,
                input_size=self.patch_resolution,
                with_cp=with_cp) for i in range(depth))
        # ViTSAM froze its own layers before they were replaced
        self.frozen_stages = frozen_stages
        if frozen_stages > 0:
            self._freeze_stages()

    def train(self, mode: bool = True) -> 'ViTDet':
        """Keep frozen stages in eval mode (no dropout / drop path)."""
        super().train(mode)
        if mode and self.frozen_stages > 0:
            self._freeze_stages()
        return self

    def _prepare_pos_embed(self, state_dict: dict, prefix: str, *args,
                           **kwargs) -> None:
        """Load hook: ``(1, [1 +] h*w, C)`` as ViTSAM's ``(1, h, w, C)``."""
        key = prefix + 'pos_embed'
        pos = state_dict.get(key)
        if pos is not None:
            if pos.shape[-1] != self.embed_dims:
                raise ValueError(
                    f'ViTDet: checkpoint {key} has width {pos.shape[-1]}, the '
                    f'backbone has embed_dims {self.embed_dims} (wrong arch?)')
            if pos.dim() == 3:
                cls_pos, grid_pos, hw = split_cls_position(
                    pos, f'ViTDet: checkpoint {key}')
                state_dict[key] = grid_pos.reshape(1, *hw, self.embed_dims)
                if cls_pos is not None:
                    print_log(f'ViTDet: {key}: cls position dropped',
                              logger='current')
            elif pos.dim() != 4:
                raise ValueError(f'ViTDet: checkpoint {key} has shape '
                                 f'{tuple(pos.shape)}; expected (1, L, C) '
                                 'or (1, H, W, C)')
        key = prefix + 'patch_embed.projection.weight'
        own = self.patch_embed.projection.weight
        if key in state_dict and state_dict[key].shape != own.shape:
            raise ValueError(
                f'ViTDet: checkpoint {key} has shape '
                f'{tuple(state_dict[key].shape)}, the backbone expects '
                f'{tuple(own.shape)} (patch size or width differ)')
        super()._prepare_pos_embed(state_dict, prefix, *args, **kwargs)
