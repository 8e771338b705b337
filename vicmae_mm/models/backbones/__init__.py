# Copyright (c) vicmae_mm contributors. All rights reserved.
from .fast_vit_block import FastTransformerEncoderLayer
from .vicmae_vit import ViCMAEViT

__all__ = ['FastTransformerEncoderLayer', 'ViCMAEViT']
