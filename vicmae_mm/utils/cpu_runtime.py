# Copyright (c) vicmae_mm contributors. All rights reserved.
"""The CPU process settings that training and benchmarks share."""
import logging
import platform
from typing import Optional

import torch
from mmengine.logging import print_log

__all__ = ['cpu_description', 'configure_cpu_runtime']

# flags that decide which GEMM / attention kernels a CPU can run
_KERNEL_FLAGS = ('avx2', 'avx512f', 'avx512_bf16', 'avx512_fp16', 'amx_bf16')


def cpu_description() -> str:
    """The CPU model, vendor, family/model and its kernel-relevant flags,
    e.g. ``'AMD EPYC (AuthenticAMD family 25 model 17; avx2 avx512f
    avx512_bf16)'`` (from ``/proc/cpuinfo``; ``platform`` elsewhere)."""
    info = {}
    try:
        with open('/proc/cpuinfo') as f:
            for line in f:
                if not line.strip():
                    break  # the first processor is enough
                key, _, value = line.partition(':')
                info[key.strip()] = value.strip()
    except OSError:
        return platform.processor() or platform.machine()
    flags = set(info.get('flags', '').split())
    have = ' '.join(f for f in _KERNEL_FLAGS if f in flags) or 'none'
    name, vendor = info.get('model name',
                            'unknown CPU'), info.get('vendor_id', '?')
    return (f'{name} ({vendor} family {info.get("cpu family", "?")} '
            f'model {info.get("model", "?")}; {have})')


def configure_cpu_runtime(threads: Optional[int] = None,
                          malloc_tuning: bool = True) -> dict:
    """Apply the process settings under which CPU training is fast.

    Call it once, early, in every entry point that trains or benchmarks
    (``tools/train.py``, ``tools/analysis/benchmark_pretrain.py``) so that
    what is measured is what trains. It

    - sets the intra-op thread count if ``threads`` is given (PyTorch's
      default, one thread per physical core, is otherwise kept);
    - keeps freed tensor memory in the process
      (:func:`~vicmae_mm.utils.runner_setup.keep_freed_memory_in_process`,
      about 5% of a ViT-B/16 CPU step) unless ``malloc_tuning`` is False;
    - logs the CPU model and the settings.

    Kernel choices (BLAS vs oneDNN, attention variant) are not made here:
    they are measured on first use, per shape class
    (:mod:`vicmae_mm.models.utils.cpu_kernels`).

    Args:
        threads (int, optional): ``torch.set_num_threads`` value.
        malloc_tuning (bool): Apply the glibc allocator settings. Defaults
            to True.

    Returns:
        dict: ``cpu`` (:func:`cpu_description`), ``threads`` and
        ``malloc_tuning`` (whether the allocator settings were applied).
    """
    from .runner_setup import keep_freed_memory_in_process
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
