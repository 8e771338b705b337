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
    """mmpretrain's layer-decay constructor, for models whose *backbone*
    knows the depth of its parameters.

    mmdet 3.3 ships layer decay for ConvNeXt only, and mmpretrain's needs
    ``get_layer_depth`` on the model itself, which detectors lack. This one
    asks ``model.backbone.get_layer_depth(name, 'backbone.')``: depth ``d``
    of ``D`` gets ``lr * layer_decay_rate ** (D - 1 - d)``, so neck and
    heads keep the base lr.

    Example:
        >>> optim_wrapper = dict(
        ...     constructor='BackboneLayerDecayOptimWrapperConstructor',
        ...     optimizer=dict(type='AdamW', lr=1e-4, weight_decay=0.1),
        ...     paramwise_cfg=dict(layer_decay_rate=0.7, norm_decay_mult=0.))
    """

    def add_params(self,
                   params: List[dict],
                   module: nn.Module,
                   prefix: str = '',
                   get_layer_depth: Optional[Callable] = None,
                   **kwargs) -> None:
        """Add parameter groups as the base class; ``TypeError`` if neither
        the model nor its ``backbone`` has ``get_layer_depth``."""
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
