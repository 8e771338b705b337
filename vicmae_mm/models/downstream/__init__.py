# Copyright (c) vicmae_mm contributors. All rights reserved.
"""Bridges of the pretraining checkpoint to mmaction2 and mmdet."""
from . import detection, video  # noqa: F401
