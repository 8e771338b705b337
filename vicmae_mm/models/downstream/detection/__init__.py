# Copyright (c) vicmae_mm contributors. All rights reserved.
"""The pretraining checkpoint in mmdet, ViTDet style (docs/benchmarks)."""
from .layer_decay_optim_wrapper_constructor import \
    BackboneLayerDecayOptimWrapperConstructor
from .simple_feature_pyramid import SimpleFeaturePyramid
from .vitdet import RelPosAttention, ViTDet, ViTDetLayer

__all__ = [
    'BackboneLayerDecayOptimWrapperConstructor', 'RelPosAttention',
    'SimpleFeaturePyramid', 'ViTDet', 'ViTDetLayer'
]
