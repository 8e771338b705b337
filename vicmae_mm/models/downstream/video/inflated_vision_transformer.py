# Copyright (c) vicmae_mm contributors. All rights reserved.
"""A video ViT for mmaction2 that starts from an image (ViC-MAE) encoder."""
from typing import Dict, List, Optional, Sequence, Tuple, Union

import numpy as np
import torch
import torch.nn.functional as F
from mmcv.cnn.bricks.transformer import PatchEmbed
from mmengine.logging import print_log
from mmengine.model import BaseModule, ModuleList
from mmengine.model.weight_init import trunc_normal_
from mmengine.utils import to_2tuple
from mmpretrain.models.backbones.vision_transformer import \
    TransformerEncoderLayer
from mmpretrain.models.utils import build_norm_layer, resize_pos_embed
from torch import nn
from torch.utils.checkpoint import checkpoint

from mmaction.registry import MODELS
from vicmae_mm.models.backbones.vicmae_vit import ViCMAEViT
from vicmae_mm.models.utils.pretrained_vit import (is_pretrained,
                                                   resolve_arch,
                                                   split_cls_position)
from .inflation import INFLATION_MODES, inflate_patch_kernel


@MODELS.register_module()
class InflatedVisionTransformer(BaseModule):
    """Video ViT that loads an image ViT checkpoint (mmpretrain key names).

    Its load hook renames, inflates and resizes the image weights and raises
    ``ValueError`` naming any weight still mis-shaped; a clip of identical
    frames gives the image encoder's feature (docs/benchmarks/mmaction2.md).

    Args:
        arch (str | dict): Name in ``arch_zoo`` or a dict of settings.
        img_size (int | Sequence[int]): Frame size.
        patch_size (int): Spatial patch size.
        in_channels (int): Input channels.
        num_frames (int): Frames per clip.
        tubelet_size (int, optional): Frames per token (``None``: 2 in
            ``'joint'`` mode, 1 in ``'framewise'``).
        mode (str): ``'joint'`` (space-time attention, zero-started
            ``temporal_pos_embed``) or ``'framewise'`` (per-frame, averaged).
        inflate_init (str): ``'average'`` or ``'center'``.
        with_cls_token (bool): Prepend the cls token.
        final_norm (bool): Pretrained per-token norm ``ln1`` before pooling.
        out_type (str): ``'avg_featmap'`` (mean patch token + ``fc_norm``),
            ``'featmap'`` (``(B, C, T', h, w)``) or ``'cls_token'``.
        drop_rate (float): Dropout rate.
        drop_path_rate (float): Stochastic depth, linear over blocks.
        qkv_bias (bool): Bias in qkv.
        norm_cfg (dict): Norm layers.
        interpolate_mode (str): Position-embedding resizing mode.
        with_cp (bool): Activation checkpointing while training.
        layer_cfgs (dict | Sequence[dict]): Extra arguments of each block.
        init_cfg (dict | list[dict], optional): Initialisation config.
    """

    arch_zoo = ViCMAEViT.arch_zoo
    MODES = ('joint', 'framewise')
    OUT_TYPES = ('avg_featmap', 'featmap', 'cls_token')

    def __init__(self,
                 arch: Union[str, dict] = 'base',
                 img_size: Union[int, Sequence[int]] = 224,
                 patch_size: int = 16,
                 in_channels: int = 3,
                 num_frames: int = 16,
                 tubelet_size: Optional[int] = None,
                 mode: str = 'joint',
                 inflate_init: str = 'average',
                 with_cls_token: bool = False,
                 final_norm: bool = True,
                 out_type: str = 'avg_featmap',
                 drop_rate: float = 0.,
                 drop_path_rate: float = 0.,
                 qkv_bias: bool = True,
                 norm_cfg: dict = dict(type='LN', eps=1e-6),
                 interpolate_mode: str = 'bicubic',
                 with_cp: bool = False,
                 layer_cfgs: Union[dict, Sequence[dict]] = dict(),
                 init_cfg: Optional[Union[dict, List[dict]]] = None) -> None:
        super().__init__(init_cfg=init_cfg)
        name = type(self).__name__
        self.arch_settings = resolve_arch(name, arch, self.arch_zoo)
        self.embed_dims = self.arch_settings['embed_dims']
        self.num_layers = self.arch_settings['num_layers']

        if mode not in self.MODES:
            raise ValueError(f'{name}: mode must be one of {self.MODES}, '
                             f'got {mode!r}')
        if tubelet_size is None:
            tubelet_size = 2 if mode == 'joint' else 1
        if mode == 'framewise' and tubelet_size != 1:
            raise ValueError(f'{name}: mode="framewise" runs the image '
                             'encoder on single frames, so tubelet_size '
                             f'must be 1, got {tubelet_size}')
        if tubelet_size < 1 or num_frames % tubelet_size:
            raise ValueError(f'{name}: num_frames ({num_frames}) must be a '
                             f'multiple of tubelet_size ({tubelet_size})')
        if inflate_init not in INFLATION_MODES:
            raise ValueError(f'{name}: inflate_init must be one of '
                             f'{INFLATION_MODES}, got {inflate_init!r}')
        if out_type not in self.OUT_TYPES:
            raise ValueError(f'{name}: out_type must be one of '
                             f'{self.OUT_TYPES}, got {out_type!r}')
        if out_type == 'cls_token' and not with_cls_token:
            raise ValueError(f'{name}: out_type="cls_token" needs '
                             'with_cls_token=True')
        self.img_size = tuple(to_2tuple(img_size))
        if len(self.img_size) != 2 or any(s % patch_size
                                          for s in self.img_size):
            raise ValueError(f'{name}: img_size {img_size} must be (H, W) '
                             f'divisible by patch_size {patch_size}')

        self.mode = mode
        self.patch_size = patch_size
        self.tubelet_size = tubelet_size
        self.num_frames = num_frames
        self.inflate_init = inflate_init
        self.with_cls_token = with_cls_token
        self.num_extra_tokens = int(with_cls_token)
        self.final_norm = final_norm
        self.out_type = out_type
        self.interpolate_mode = interpolate_mode
        self.with_cp = with_cp
        self.patch_resolution = tuple(s // patch_size for s in self.img_size)
        num_patches = self.patch_resolution[0] * self.patch_resolution[1]

        kernel = (tubelet_size, patch_size, patch_size)
        self.patch_embed = PatchEmbed(
            in_channels=in_channels,
            embed_dims=self.embed_dims,
            conv_type='Conv3d',
            kernel_size=kernel,
            stride=kernel,
            padding=(0, 0, 0),
            dilation=(1, 1, 1))
        if with_cls_token:
            self.cls_token = nn.Parameter(torch.zeros(1, 1, self.embed_dims))
        self.pos_embed = nn.Parameter(
            torch.zeros(1, self.num_extra_tokens + num_patches,
                        self.embed_dims))
        self.temporal_pos_embed = nn.Parameter(
            torch.zeros(1, num_frames // tubelet_size,
                        self.embed_dims)) if mode == 'joint' else None
        self.drop_after_pos = nn.Dropout(p=drop_rate)

        if isinstance(layer_cfgs, dict):
            layer_cfgs = [layer_cfgs] * self.num_layers
        if len(layer_cfgs) != self.num_layers:
            raise ValueError(f'{name}: {len(layer_cfgs)} layer_cfgs for '
                             f'{self.num_layers} layers')
        block_cfg = dict(
            embed_dims=self.embed_dims,
            num_heads=self.arch_settings['num_heads'],
            feedforward_channels=self.arch_settings['feedforward_channels'],
            drop_rate=drop_rate,
            qkv_bias=qkv_bias,
            norm_cfg=norm_cfg)
        dpr = np.linspace(0, drop_path_rate, self.num_layers)
        self.blocks = ModuleList(
            TransformerEncoderLayer(**{
                **block_cfg, 'drop_path_rate': float(rate),
                **cfg
            }) for rate, cfg in zip(dpr, layer_cfgs))
        if final_norm:
            self.ln1 = build_norm_layer(norm_cfg, self.embed_dims)
        if out_type == 'avg_featmap':
            self.fc_norm = build_norm_layer(norm_cfg, self.embed_dims)

    def init_weights(self) -> None:
        """Random init, or the pretrained weights when ``init_cfg`` says."""
        super().init_weights()
        if not is_pretrained(self.init_cfg):
            # temporal embedding stays zero: a static clip looks like an image
            trunc_normal_(self.pos_embed, std=0.02)

    def _load_from_state_dict(self, state_dict: Dict[str, torch.Tensor],
                              prefix: str, *args, **kwargs) -> None:
        """Adapt image-encoder weights in place, then load as usual."""
        notes = self._adapt_image_weights(state_dict, prefix)
        if notes:
            print_log(
                f'{type(self).__name__}: adapted image-encoder weights: ' +
                '; '.join(notes),
                logger='current')
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)

    def _adapt_image_weights(self, state_dict: Dict[str, torch.Tensor],
                             prefix: str) -> List[str]:
        notes = []
        # 1. mmpretrain's `layers` container is `blocks` here
        old = prefix + 'layers.'
        renamed = [k for k in list(state_dict) if k.startswith(old)]
        for key in renamed:
            state_dict[prefix + 'blocks.' + key[len(old):]] = \
                state_dict.pop(key)
        if renamed:
            notes.append(f'renamed {len(renamed)} layers.* keys to blocks.*')

        # 2. 2-D patch kernel -> tubelet kernel
        key = prefix + 'patch_embed.projection.weight'
        weight = state_dict.get(key)
        if isinstance(weight, torch.Tensor) and weight.ndim == 4:
            state_dict[key] = inflate_patch_kernel(weight, self.tubelet_size,
                                                   self.inflate_init)
            notes.append(f'inflated {key} {tuple(weight.shape)} -> '
                         f'{tuple(state_dict[key].shape)} '
                         f'({self.inflate_init})')

        # 3. image position embedding -> this model's spatial grid
        key = prefix + 'pos_embed'
        pos = state_dict.get(key)
        if isinstance(pos, torch.Tensor) and \
                pos.shape != self.pos_embed.shape:
            cls_pos, patch_pos, src_grid = split_cls_position(
                pos, f'{type(self).__name__}: checkpoint {key}')
            if patch_pos.shape[-1] != self.embed_dims:
                raise ValueError(
                    f'{type(self).__name__}: {key} has {patch_pos.shape[-1]} '
                    f'channels, the model has {self.embed_dims} (wrong arch?)')
            patch_pos = resize_pos_embed(
                patch_pos,
                src_grid,
                self.patch_resolution,
                mode=self.interpolate_mode,
                num_extra_tokens=0)
            note = f'{key} grid {src_grid} -> {self.patch_resolution}'
            if self.with_cls_token:
                if cls_pos is None:
                    cls_pos = patch_pos.new_zeros(1, 1, self.embed_dims)
                    note += ', no cls position in checkpoint (zeros)'
                patch_pos = torch.cat([cls_pos, patch_pos], dim=1)
            elif cls_pos is not None:
                note += ', cls position dropped'
            state_dict[key] = patch_pos
            notes.append(note)

        # 4. anything still mis-shaped is an error, not a warning
        bad = []
        for name, own in self.state_dict().items():
            src = state_dict.get(prefix + name)
            if isinstance(src, torch.Tensor) and src.shape != own.shape:
                bad.append(f'{prefix}{name}: checkpoint '
                           f'{tuple(src.shape)} vs model {tuple(own.shape)}')
        if bad:
            raise ValueError(f'{type(self).__name__}: checkpoint weights do '
                             'not fit this model (wrong arch, patch size or '
                             'tubelet size?):\n  ' + '\n  '.join(bad))
        return notes

    def _patch_position(self, grid: Tuple[int, int, int]) -> torch.Tensor:
        """Position embedding of the patch tokens, ``(1, T' * h * w, C)``."""
        num_t, h, w = grid
        spatial = resize_pos_embed(
            self.pos_embed[:, self.num_extra_tokens:],
            self.patch_resolution, (h, w),
            mode=self.interpolate_mode,
            num_extra_tokens=0)
        if self.temporal_pos_embed is None:
            return spatial.repeat(1, num_t, 1)
        temporal = self.temporal_pos_embed
        if temporal.shape[1] != num_t:
            temporal = F.interpolate(
                temporal.transpose(1, 2),
                size=num_t,
                mode='linear',
                align_corners=False).transpose(1, 2)
        return (temporal.unsqueeze(2) + spatial.unsqueeze(1)).flatten(1, 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Encode ``(B, C, T, H, W)`` clips as ``out_type`` says."""
        if x.ndim != 5:
            raise ValueError(f'{type(self).__name__} expects (B, C, T, H, W) '
                             f'clips, got shape {tuple(x.shape)}')
        B, _, T, H, W = x.shape
        t, p = self.tubelet_size, self.patch_size
        if T % t or H % p or W % p:
            raise ValueError(
                f'{type(self).__name__}: clip (T, H, W) = {(T, H, W)} is not '
                f'divisible by the tubelet ({t}, {p}, {p})')
        grid = (T // t, H // p, W // p)
        tokens = self.patch_embed(x)[0] + self._patch_position(grid)
        if self.mode == 'framewise':
            tokens = tokens.reshape(B * grid[0], grid[1] * grid[2], -1)
        if self.with_cls_token:
            cls_token = self.cls_token + self.pos_embed[:, :1]
            tokens = torch.cat(
                [cls_token.expand(tokens.shape[0], -1, -1), tokens], dim=1)
        tokens = self.drop_after_pos(tokens)

        use_cp = self.with_cp and self.training and torch.is_grad_enabled()
        for block in self.blocks:
            tokens = checkpoint(block, tokens, use_reentrant=False) \
                if use_cp else block(tokens)
        if self.final_norm:
            tokens = self.ln1(tokens)
        return self._format_output(tokens, B, grid)

    def _format_output(self, tokens: torch.Tensor, batch: int,
                       grid: Tuple[int, int, int]) -> torch.Tensor:
        extra = self.num_extra_tokens
        patch = tokens[:, extra:].reshape(batch, -1, self.embed_dims)
        if self.out_type == 'avg_featmap':
            return self.fc_norm(patch.mean(dim=1))
        if self.out_type == 'featmap':
            return patch.reshape(batch, *grid, self.embed_dims).permute(
                0, 4, 1, 2, 3).contiguous()
        # cls token; frame-wise: averaged over the frames
        return tokens[:, 0].reshape(batch, -1, self.embed_dims).mean(dim=1)
