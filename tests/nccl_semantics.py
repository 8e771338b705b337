# Copyright (c) vicmae_mm contributors. All rights reserved.
"""NCCL's device rule on a machine without GPUs.

NCCL takes CUDA tensors only: a CPU tensor handed to one of its collectives
fails with ``No backend type associated with device type cpu`` at the first
iteration of a multi-GPU run. :func:`cuda_only_world` makes the default
process group behave the same way here: PyTorch's ``FakeProcessGroup``
(collectives return at once, nothing is communicated) registered for the
``cuda`` device type only, so the process-group dispatcher rejects every
tensor on another device exactly as it does for NCCL. Inside,
``FakeTensorMode`` lets code allocate "CUDA" tensors (shapes, dtypes and
devices are tracked; no values exist), which is how a model's tensors look
on a GPU.

What such a run cannot do: read a value on the host (``.item()`` raises
``DataDependentOutputException``: reaching it means every collective before
it was accepted) and run autograd's engine on CUDA (backward functions are
called directly instead). Numbers are checked by the real 2-process gloo
tests.
"""
from contextlib import contextmanager
from typing import Iterator

import torch
import torch.distributed as dist
from torch._subclasses.fake_tensor import (DataDependentOutputException,
                                           FakeTensorMode)
from torch.testing._internal.distributed.fake_pg import (FakeStore,
                                                         _create_fake_pg)

BACKEND = 'vicmae_cuda_only'
CPU_REJECTED = 'No backend type associated with device type cpu'

__all__ = ['cuda_only_world', 'BACKEND', 'CPU_REJECTED',
           'DataDependentOutputException']


def _register() -> None:
    if not hasattr(dist.Backend, BACKEND.upper()):
        dist.Backend.register_backend(
            BACKEND, _create_fake_pg, extended_api=True, devices=['cuda'])


@contextmanager
def cuda_only_world(world_size: int = 2, rank: int = 0,
                    monkeypatch=None) -> Iterator[FakeTensorMode]:
    """A default process group with NCCL's device rule, under fake tensors.

    Args:
        world_size (int): Ranks the group pretends to have. Defaults to 2.
        rank (int): This process's rank. Defaults to 0.
        monkeypatch: pytest's fixture; ``torch.cuda.current_device`` is made
            to answer 0, as after ``torch.cuda.set_device(LOCAL_RANK)``.

    Yields:
        FakeTensorMode: The active mode (tensors made inside are fake).
    """
    assert not dist.is_initialized(), 'a process group is already set up'
    _register()
    if monkeypatch is not None:
        monkeypatch.setattr(torch.cuda, 'current_device', lambda: 0)
    dist.init_process_group(
        BACKEND, store=FakeStore(), rank=rank, world_size=world_size)
    try:
        with FakeTensorMode() as mode:
            yield mode
    finally:
        dist.destroy_process_group()
