# Copyright (c) vicmae_mm contributors. All rights reserved.
from .atomic_local_backend import AtomicLocalBackend
from .hooks import *  # noqa: F401,F403
from .optimizers import *  # noqa: F401,F403

__all__ = ['AtomicLocalBackend']
