# Copyright (c) vicmae_mm contributors. All rights reserved.
from .atomic_local_backend import AtomicLocalBackend
from .fsdp_strategy import ViCMAEFSDPStrategy
from .hooks import *  # noqa: F401,F403
from .hooks.iteration_seed_hook import IterationSeedHook
from .hooks.nonfinite_loss_hook import NonFiniteLossError, NonFiniteLossHook
from .optimizers import *  # noqa: F401,F403

__all__ = [
    'AtomicLocalBackend', 'IterationSeedHook', 'NonFiniteLossError',
    'NonFiniteLossHook', 'ViCMAEFSDPStrategy'
]
