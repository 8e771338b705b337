# Copyright (c) vicmae_mm contributors. All rights reserved.
"""ViTDet's simple feature pyramid, built from one single-scale map."""
from typing import List, Optional, Sequence, Tuple, Union

import torch
import torch.nn.functional as F
from mmcv.cnn import ConvModule, build_activation_layer, build_norm_layer
from mmdet.registry import MODELS
from mmengine.model import BaseModule
from torch import nn


@MODELS.register_module()
class SimpleFeaturePyramid(BaseModule):
    """SimpleFPN neck of `ViTDet <https://arxiv.org/abs/2203.16527>`_.

    One level per scale factor, further levels up to ``num_outs`` by
    stride-2 subsampling. At stride 16, ``(4, 2, 1, 0.5)`` + 1 gives strides
    4..64 (Mask R-CNN), ``(2, 1, 0.5)`` + 2 gives 8..128 (RetinaNet, FCOS).

    Args:
        in_channels (int): Channels of the backbone map.
        out_channels (int): Channels of every output level.
        scale_factors (Sequence[float]): Subset of ``4, 2, 1, 0.5``, fine
            to coarse.
        num_outs (int): Number of outputs (>= ``len(scale_factors)``).
        norm_cfg (dict): Norm after deconvolutions and convolutions.
        act_cfg (dict): Activation between the two ``x4`` deconvolutions.
        init_cfg (dict | list[dict], optional): Initialisation config.
    """

    _supported_scales = (4.0, 2.0, 1.0, 0.5)

    def __init__(self,
                 in_channels: int,
                 out_channels: int,
                 scale_factors: Sequence[float] = (4.0, 2.0, 1.0, 0.5),
                 num_outs: int = 5,
                 norm_cfg: dict = dict(type='mmpretrain.LN2d',
                                       requires_grad=True),
                 act_cfg: dict = dict(type='GELU'),
                 init_cfg: Optional[Union[dict, List[dict]]] = dict(
                     type='Xavier',
                     layer=['Conv2d', 'ConvTranspose2d'],
                     distribution='uniform')) -> None:
        super().__init__(init_cfg=init_cfg)
        scale_factors = tuple(float(s) for s in scale_factors)
        bad = [s for s in scale_factors if s not in self._supported_scales]
        if bad or not scale_factors:
            raise ValueError(
                f'SimpleFeaturePyramid: scale_factors {scale_factors} must '
                f'be a non-empty subset of {self._supported_scales}')
        if list(scale_factors) != sorted(scale_factors, reverse=True):
            raise ValueError('SimpleFeaturePyramid: scale_factors must go '
                             f'from fine to coarse, got {scale_factors}')
        if num_outs < len(scale_factors):
            raise ValueError(f'SimpleFeaturePyramid: num_outs {num_outs} < '
                             f'{len(scale_factors)} scale factors')
        if 4.0 in scale_factors and in_channels % 4:
            raise ValueError(f'SimpleFeaturePyramid: in_channels '
                             f'{in_channels} must be divisible by 4')
        self.in_channels = in_channels
        self.out_channels = out_channels
        self.scale_factors = scale_factors
        self.num_outs = num_outs

        self.stages = nn.ModuleList()
        self.lateral_convs = nn.ModuleList()
        self.output_convs = nn.ModuleList()
        for scale in scale_factors:
            stage, channels = self._resampler(scale, in_channels, norm_cfg,
                                              act_cfg)
            self.stages.append(stage)
            self.lateral_convs.append(
                ConvModule(
                    channels, out_channels, 1, norm_cfg=norm_cfg,
                    act_cfg=None))
            self.output_convs.append(
                ConvModule(
                    out_channels,
                    out_channels,
                    3,
                    padding=1,
                    norm_cfg=norm_cfg,
                    act_cfg=None))

    @staticmethod
    def _resampler(scale: float, channels: int, norm_cfg: dict,
                   act_cfg: dict) -> Tuple[nn.Module, int]:
        """The module that resamples by ``scale`` and its output width."""
        half, quarter = channels // 2, channels // 4
        if scale == 4.0:
            return nn.Sequential(
                nn.ConvTranspose2d(channels, half, 2, stride=2),
                build_norm_layer(norm_cfg, half)[1],
                build_activation_layer(act_cfg),
                nn.ConvTranspose2d(half, quarter, 2, stride=2)), quarter
        if scale == 2.0:
            return nn.ConvTranspose2d(channels, half, 2, stride=2), half
        if scale == 1.0:
            return nn.Identity(), channels
        return nn.MaxPool2d(2, stride=2), channels

    def forward(self, inputs: Union[torch.Tensor, Sequence[torch.Tensor]]
                ) -> Tuple[torch.Tensor, ...]:
        """Build ``num_outs`` maps, fine to coarse, from one backbone map."""
        if not isinstance(inputs, torch.Tensor):
            if len(inputs) != 1:
                raise ValueError('SimpleFeaturePyramid takes one backbone '
                                 f'map, got {len(inputs)}')
            inputs = inputs[0]
        if inputs.shape[1] != self.in_channels:
            raise ValueError(
                f'SimpleFeaturePyramid: expected {self.in_channels} input '
                f'channels, got {inputs.shape[1]}')
        outs = [
            output(lateral(stage(inputs))) for stage, lateral, output in zip(
                self.stages, self.lateral_convs, self.output_convs)
        ]
        while len(outs) < self.num_outs:
            outs.append(F.max_pool2d(outs[-1], kernel_size=1, stride=2))
        return tuple(outs)
