# Copyright (c) vicmae_mm contributors. All rights reserved.
"""Reseed the training process's RNGs at every iteration."""
import random

import numpy as np
import torch
from mmengine.dist import get_dist_info
from mmengine.hooks import Hook
from mmengine.registry import HOOKS


@HOOKS.register_module()
class IterationSeedHook(Hook):
    """Make each iteration's randomness a function of (seed, iteration, rank).

    Masks, drop path and dropout draw from the global RNGs, which mmengine
    does not save, so resumed runs need this to reproduce the same losses
    (``docs/reliability.md``, "Exact resume").

    Args:
        seed_offset (int): Added to the runner seed.
    """

    priority = 'VERY_HIGH'

    def __init__(self, seed_offset: int = 0) -> None:
        self.seed_offset = seed_offset

    def before_train_iter(self, runner, batch_idx: int,
                          data_batch=None) -> None:
        """Reseed ``random``, NumPy and torch."""
        rank, _ = get_dist_info()
        base = runner.seed if runner.seed is not None else 0
        seq = np.random.SeedSequence(
            [int(base) + self.seed_offset, int(runner.iter), rank])
        seed = int(seq.generate_state(1, dtype=np.uint32)[0])
        random.seed(seed)
        np.random.seed(seed)
        torch.manual_seed(seed)
