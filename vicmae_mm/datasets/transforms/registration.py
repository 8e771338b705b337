# Copyright (c) vicmae_mm contributors. All rights reserved.
"""Register frame-pair transforms where configs would name them."""
from typing import Type

from mmaction.registry import TRANSFORMS as MMACTION_TRANSFORMS
from mmpretrain.registry import TRANSFORMS


def register_transform(cls: Type) -> Type:
    """Class decorator: register in mmpretrain's and mmaction2's TRANSFORMS."""
    TRANSFORMS.register_module(module=cls)
    MMACTION_TRANSFORMS.register_module(module=cls)
    return cls
