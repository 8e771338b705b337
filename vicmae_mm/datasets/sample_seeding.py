# Copyright (c) vicmae_mm contributors. All rights reserved.
"""Per-sample seeding: a sample is a pure function of (seed, epoch, index).

Policy (used by :class:`MixedPairDataset` and :class:`MixedRatioSampler`):

* The sampler yields **epoch-tagged indices** ``epoch * len(dataset) + idx``
  and tells the dataset its seed once, before any worker starts.
* For each sample, the dataset seeds Python's ``random``, NumPy's global
  RNG and torch's CPU RNG from ``(seed, epoch, idx, attempt)`` before
  running the pipeline, and restores the previous RNG states afterwards
  (so a ``num_workers=0`` run leaves the training process's RNGs, e.g. the
  model's mask noise, untouched).

Frame-pair sampling and every random view augmentation therefore depend only
on the runner seed, the epoch and the sample index: not on the number of
dataloader workers, on persistent workers, on the order samples are fetched
in, or on resuming mid-epoch; and they change from epoch to epoch.
"""
import random
from contextlib import contextmanager
from typing import Iterator, Tuple

import numpy as np
import torch

from vicmae_mm.utils.rng import preserved_rng_state


def sample_seed(seed: int, epoch: int, index: int, attempt: int = 0) -> int:
    """A well-mixed 32-bit seed for one fetch attempt of one sample.

    Args:
        seed (int): The run's sampling seed.
        epoch (int): Epoch the sample belongs to.
        index (int): Sample index in the dataset (untagged).
        attempt (int): Retry number after skipped bad files. Defaults to 0.

    Returns:
        int: A seed in ``[0, 2**32)``.
    """
    entropy = [int(seed) % (1 << 32), int(epoch), int(index), int(attempt)]
    if min(entropy) < 0:
        raise ValueError(f'sample_seed: epoch, index and attempt must be '
                         f'>= 0, got {entropy[1:]}')
    return int(np.random.SeedSequence(entropy).generate_state(1)[0])


@contextmanager
def seeded_global_rngs(seed: int) -> Iterator[None]:
    """Seed ``random``, ``numpy.random`` and torch (CPU) for a block, then
    restore their previous states.

    Args:
        seed (int): Seed in ``[0, 2**32)``.
    """
    with preserved_rng_state(cuda=False):
        random.seed(seed)
        np.random.seed(seed)
        torch.random.default_generator.manual_seed(seed)
        yield


def tag_index(epoch: int, index: int, dataset_len: int) -> int:
    """Encode ``(epoch, index)`` into the integer a sampler yields."""
    return epoch * dataset_len + index


def untag_index(tagged: int, dataset_len: int) -> Tuple[int, int]:
    """Decode a tagged index into ``(epoch, index)``."""
    if dataset_len <= 0:
        raise ValueError('untag_index: the dataset is empty')
    epoch, index = divmod(int(tagged), dataset_len)
    if epoch < 0:
        raise IndexError(f'negative sample index {tagged}')
    return epoch, index
