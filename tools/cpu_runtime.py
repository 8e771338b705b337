# Copyright (c) vicmae_mm contributors. All rights reserved.
"""The CPU process settings that training, the demo and the benchmarks
share, so that what is measured is what trains."""
import ctypes
import logging
from typing import Optional

import torch
from mmengine.logging import print_log

from vicmae_mm.models.utils.cpu_kernels import cpu_description


def keep_freed_memory_in_process(top_pad: int = 1 << 30) -> bool:
    """Stop glibc from returning freed tensor memory to the OS.

    Each step reallocates the same activation sizes; glibc's default trims
    and unmaps them on free, so the next step page-faults them back (about
    5% of a ViT-B/16 CPU step). RSS then stays at its peak.

    Args:
        top_pad (int): Extra bytes requested from the OS at each heap growth.

    Returns:
        bool: Whether the settings were applied (False outside glibc).
    """
    try:
        libc = ctypes.CDLL('libc.so.6')
    except OSError:
        return False
    M_TRIM_THRESHOLD, M_TOP_PAD, M_MMAP_THRESHOLD = -1, -2, -3
    ok = libc.mallopt(M_TRIM_THRESHOLD, (1 << 31) - 1) == 1  # C int max
    ok &= libc.mallopt(M_TOP_PAD, min(int(top_pad), (1 << 31) - 1)) == 1
    # the largest value glibc accepts: blocks below 32 MiB come from the heap
    ok &= libc.mallopt(M_MMAP_THRESHOLD, 32 << 20) == 1
    return bool(ok)


def configure_cpu_runtime(threads: Optional[int] = None,
                          malloc_tuning: bool = True) -> dict:
    """Apply and log the process settings under which CPU training is fast.

    Kernel choices are not made here: the fast ViT blocks measure them on
    first use (:mod:`vicmae_mm.models.utils.cpu_kernels`).

    Args:
        threads (int, optional): ``torch.set_num_threads`` value (default:
            PyTorch's, one thread per physical core).
        malloc_tuning (bool): Apply :func:`keep_freed_memory_in_process`.

    Returns:
        dict: ``cpu`` (:func:`cpu_description`), ``threads`` and
        ``malloc_tuning`` (whether the allocator settings were applied).
    """
    if threads is not None:
        if threads < 1:
            raise ValueError(f'threads must be >= 1, got {threads}')
        torch.set_num_threads(threads)
    applied = dict(cpu=cpu_description(),
                   threads=torch.get_num_threads(),
                   malloc_tuning=bool(malloc_tuning
                                      and keep_freed_memory_in_process()))
    print_log('CPU runtime: ' + ', '.join(f'{k} {v}'
                                          for k, v in applied.items()),
              logger='current',
              level=logging.INFO)
    return applied
