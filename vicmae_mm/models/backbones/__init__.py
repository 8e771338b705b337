# Copyright (c) vicmae_mm contributors. All rights reserved.
from .vicmae_vit import ViCMAEViT

__all__ = ['ViCMAEViT']
