# Copyright (c) vicmae_mm contributors. All rights reserved.
"""The pretraining checkpoint in mmdet, ViTDet style: a plain-ViT backbone
(mmpretrain's ViTSAM), the simple feature pyramid and layer-wise lr decay,
registered in mmdet's registries (mmdet's own ViTDet lives in its unshipped
``projects/``)."""
from .layer_decay_optim_wrapper_constructor import \
    BackboneLayerDecayOptimWrapperConstructor
from .simple_feature_pyramid import SimpleFeaturePyramid
from .vitdet import RelPosAttention, ViTDet, ViTDetLayer

__all__ = [
    'BackboneLayerDecayOptimWrapperConstructor', 'RelPosAttention',
    'SimpleFeaturePyramid', 'ViTDet', 'ViTDetLayer'
]
