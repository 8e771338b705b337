# Copyright (c) vicmae_mm contributors. All rights reserved.
"""Modules carrying the pretraining checkpoint into mmaction2 (``video``)
and mmdet (``detection``), registered in those libraries' registries."""
from . import detection, video  # noqa: F401
