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

    MAE masks, drop path and dropout draw from the global RNGs, which
    mmengine does not save and building a dataloader iterator consumes, so a
    resumed run would draw other masks. Reseeding ``random``, NumPy and
    torch before every iteration makes resumed runs reproduce the same
    losses. Data-side randomness is seeded per sample by the datasets.

    Args:
        seed_offset (int): Added to the runner seed.
    """

    priority = 'VERY_HIGH'

    def __init__(self, seed_offset: int = 0) -> None:
        self.seed_offset = seed_offset

    def before_train_iter(self, runner, batch_idx: int,
                          data_batch=None) -> None:
        """Seed from the runner seed, the global iteration and the rank."""
        rank, _ = get_dist_info()
        base = runner.seed if runner.seed is not None else 0
        seq = np.random.SeedSequence(
            [int(base) + self.seed_offset, int(runner.iter), rank])
        seed = int(seq.generate_state(1, dtype=np.uint32)[0])
        random.seed(seed)
        np.random.seed(seed)
        torch.manual_seed(seed)
