# Copyright (c) vicmae_mm contributors. All rights reserved.
"""A ViT encoder block with windowed or global attention (ViTDet)."""
from typing import Optional, Tuple

import torch
from mmcv.cnn import build_norm_layer
from mmcv.cnn.bricks.drop import build_dropout
from mmcv.cnn.bricks.transformer import FFN
from mmengine.model import BaseModule
from mmpretrain.models.backbones.vit_sam import (window_partition,
                                                 window_unpartition)

from .rel_pos_attention import RelPosAttention


class ViTDetBlock(BaseModule):
    """Pre-norm transformer block on a ``(B, H, W, C)`` token grid.

    With ``window_size > 0`` attention runs inside non-overlapping windows
    (the grid is zero-padded to a multiple of the window); with 0 it is
    global. Submodule names are those of mmpretrain's ``VisionTransformer``
    layers (``ln1``, ``attn.qkv``, ``attn.proj``, ``ln2``,
    ``ffn.layers.0.0``, ``ffn.layers.1``), so a pretrained ViT layer loads
    into it key for key.

    Args:
        embed_dims (int): Token width.
        num_heads (int): Attention heads.
        feedforward_channels (int): Hidden width of the MLP.
        window_size (int): Window side in tokens; 0 for global attention.
            Defaults to 0.
        input_size (tuple[int, int], optional): Token grid of the nominal
            input, used to size the relative tables of global blocks.
        use_rel_pos (bool): Decomposed relative positions. Defaults to False.
        qkv_bias (bool): Bias in qkv. Defaults to True.
        drop_rate (float): Dropout after the MLP. Defaults to 0.
        drop_path_rate (float): Stochastic depth of both residual branches.
            Defaults to 0.
        act_cfg (dict): MLP activation. Defaults to GELU.
        norm_cfg (dict): Norm layers. Defaults to LN with eps 1e-6 (the
            pretraining encoder's).
        init_cfg (dict, optional): Initialisation config.
    """

    def __init__(self,
                 embed_dims: int,
                 num_heads: int,
                 feedforward_channels: int,
                 window_size: int = 0,
                 input_size: Optional[Tuple[int, int]] = None,
                 use_rel_pos: bool = False,
                 qkv_bias: bool = True,
                 drop_rate: float = 0.,
                 drop_path_rate: float = 0.,
                 act_cfg: dict = dict(type='GELU'),
                 norm_cfg: dict = dict(type='LN', eps=1e-6),
                 init_cfg: Optional[dict] = None) -> None:
        super().__init__(init_cfg=init_cfg)
        if window_size < 0:
            raise ValueError(
                f'ViTDetBlock: window_size must be >= 0, got {window_size}')
        self.window_size = window_size
        rel_pos_size = (window_size, window_size) if window_size else \
            input_size
        self.ln1 = build_norm_layer(norm_cfg, embed_dims)[1]
        self.attn = RelPosAttention(
            embed_dims,
            num_heads,
            qkv_bias=qkv_bias,
            use_rel_pos=use_rel_pos,
            rel_pos_size=rel_pos_size)
        self.drop_path = build_dropout(
            dict(type='DropPath', drop_prob=drop_path_rate))
        self.ln2 = build_norm_layer(norm_cfg, embed_dims)[1]
        self.ffn = FFN(
            embed_dims=embed_dims,
            feedforward_channels=feedforward_channels,
            num_fcs=2,
            ffn_drop=drop_rate,
            dropout_layer=dict(type='DropPath', drop_prob=drop_path_rate),
            act_cfg=act_cfg)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Run the block on tokens ``(B, H, W, C)``; same shape out."""
        shortcut = x
        x = self.ln1(x)
        if self.window_size > 0:
            hw = x.shape[1:3]
            x, padded_hw = window_partition(x, self.window_size)
            x = self.attn(x)
            x = window_unpartition(x, self.window_size, padded_hw, hw)
        else:
            x = self.attn(x)
        x = shortcut + self.drop_path(x)
        return self.ffn(self.ln2(x), identity=x)
