# Copyright (c) vicmae_mm contributors. All rights reserved.
from .fast_vit_block import FastTransformerEncoderLayer  # noqa: F401
from .vicmae_vit import ViCMAEViT  # noqa: F401
