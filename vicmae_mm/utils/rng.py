# Copyright (c) vicmae_mm contributors. All rights reserved.
"""Saving and restoring the global random number generators."""
import random
from contextlib import contextmanager
from typing import Iterator

import numpy as np
import torch


@contextmanager
def preserved_rng_state(cuda: bool = True) -> Iterator[None]:
    """Restore Python's, NumPy's and torch's global RNG states on exit.

    Args:
        cuda (bool): Also restore the CUDA generators, if available (False
            in dataloader workers: it would initialise CUDA after a fork).
    """
    py_state, np_state = random.getstate(), np.random.get_state()
    torch_state = torch.get_rng_state()
    cuda_states = torch.cuda.get_rng_state_all() \
        if cuda and torch.cuda.is_available() else None
    try:
        yield
    finally:
        random.setstate(py_state)
        np.random.set_state(np_state)
        torch.set_rng_state(torch_state)
        if cuda_states is not None:
            torch.cuda.set_rng_state_all(cuda_states)
