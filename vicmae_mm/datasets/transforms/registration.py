# Copyright (c) vicmae_mm contributors. All rights reserved.
"""Register frame-pair transforms where configs would name them."""
from typing import Type

from mmpretrain.registry import TRANSFORMS


def register_transform(cls: Type) -> Type:
    """Class decorator: register in mmpretrain's ``TRANSFORMS`` and, when
    mmaction2 is installed, in ``mmaction.registry.TRANSFORMS`` too, so
    mmaction2 configs (``default_scope='mmaction'``) can use the class."""
    TRANSFORMS.register_module(module=cls)
    try:
        from mmaction.registry import TRANSFORMS as MMACTION_TRANSFORMS
    except ImportError:  # mmaction2 is optional for pretraining
        return cls
    MMACTION_TRANSFORMS.register_module(module=cls)
    return cls
