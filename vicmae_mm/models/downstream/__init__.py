# Copyright (c) vicmae_mm contributors. All rights reserved.
"""Backbones/necks that carry the pretraining checkpoint into mmaction2
(``video``) and mmdet (``detection``); registered in those libraries'
registries so their configs can name them."""
from . import detection, video  # noqa: F401
