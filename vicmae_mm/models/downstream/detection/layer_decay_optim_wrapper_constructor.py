# Copyright (c) vicmae_mm contributors. All rights reserved.
"""Layer-wise learning-rate decay for detectors with a ViT backbone."""
from functools import partial
from typing import Callable, List, Optional

from mmdet.registry import OPTIM_WRAPPER_CONSTRUCTORS
from mmpretrain.engine.optimizers import \
    LearningRateDecayOptimWrapperConstructor
from torch import nn


@OPTIM_WRAPPER_CONSTRUCTORS.register_module()
class BackboneLayerDecayOptimWrapperConstructor(
        LearningRateDecayOptimWrapperConstructor):
    """mmpretrain's layer-decay constructor, asking the *backbone* for depths.

    mmpretrain's needs ``get_layer_depth`` on the model, which detectors
    lack; this one asks ``model.backbone.get_layer_depth(name, 'backbone.')``:
    depth ``d`` of ``D`` gets ``lr * layer_decay_rate ** (D - 1 - d)``, so
    neck and heads keep the base lr.
    """

    def add_params(self,
                   params: List[dict],
                   module: nn.Module,
                   prefix: str = '',
                   get_layer_depth: Optional[Callable] = None,
                   **kwargs) -> None:
        """Add parameter groups, with the backbone's ``get_layer_depth``."""
        if get_layer_depth is None and not hasattr(module, 'get_layer_depth'):
            backbone = getattr(module, 'backbone', None)
            if not hasattr(backbone, 'get_layer_depth'):
                raise TypeError(
                    f'{type(self).__name__}: {type(module).__name__} has no '
                    '`backbone` with a `get_layer_depth` method '
                    f'(backbone: {type(backbone).__name__}); use a backbone '
                    'such as ViTDet or drop layer_decay_rate')
            get_layer_depth = partial(
                backbone.get_layer_depth, prefix='backbone.')
        super().add_params(
            params,
            module,
            prefix=prefix,
            get_layer_depth=get_layer_depth,
            **kwargs)
