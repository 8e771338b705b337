# Copyright (c) vicmae_mm contributors. All rights reserved.
"""vicmae_mm: ViC-MAE for the OpenMMLab ecosystem.

Importing the package registers every component in the mmpretrain
registries (and, where installed, mmaction2's and mmdet's) and applies the
compatibility fixes documented in :mod:`vicmae_mm.utils.compat`. It never
downloads or writes anything.
"""
from .utils import compat as _compat

_compat.apply()

from . import datasets, engine, models  # noqa: E402,F401
from .version import __version__  # noqa: E402

__all__ = ['__version__']
