# Copyright (c) vicmae_mm contributors. All rights reserved.
"""Per-sample seeding: a sample is a pure function of (seed, epoch, index);
see docs/data_preparation.md ("Determinism policy")."""
import random
from contextlib import contextmanager
from typing import Iterator, Tuple

import numpy as np
import torch

from vicmae_mm.utils.rng import preserved_rng_state


def sample_seed(seed: int, epoch: int, index: int, attempt: int = 0) -> int:
    """A well-mixed seed in ``[0, 2**32)`` for one attempt at one sample."""
    entropy = [int(seed) % (1 << 32), int(epoch), int(index), int(attempt)]
    if min(entropy) < 0:
        raise ValueError(f'sample_seed: epoch, index and attempt must be '
                         f'>= 0, got {entropy[1:]}')
    return int(np.random.SeedSequence(entropy).generate_state(1)[0])


@contextmanager
def seeded_global_rngs(seed: int) -> Iterator[None]:
    """Seed ``random``, NumPy and torch (CPU) for a block, then restore."""
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
