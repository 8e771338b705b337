# Copyright (c) vicmae_mm contributors. All rights reserved.
"""The pretraining checkpoint in mmaction2 (docs/benchmarks/mmaction2.md)."""
from .inflated_vision_transformer import InflatedVisionTransformer
from .inflation import inflate_patch_kernel

__all__ = ['InflatedVisionTransformer', 'inflate_patch_kernel']
