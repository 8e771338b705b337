# Copyright (c) vicmae_mm contributors. All rights reserved.
"""Choose CPU kernels for the ViT block by timing them on this machine.

Which fp32 GEMM is fastest depends on the CPU: PyTorch's default BLAS (MKL)
takes its AVX2 path on AMD CPUs, where oneDNN's AVX-512 kernel runs about
twice as fast, while on Intel CPUs MKL is ahead of oneDNN. Which attention
kernel is fastest depends on dtype and sequence length. So nothing here
names a vendor: the first time a shape class is met, every candidate runs
(forward and backward, interleaved, median of a few rounds) and the fastest
is kept, logged once. The default (BLAS,
``F.scaled_dot_product_attention``) is kept unless another candidate is
clearly faster.

Choices are also written to a small cache file, keyed by the CPU model
and flags, the PyTorch version and the thread count, so that later
processes on the same machine (a resumed run, the ranks of a job, each
stage of the demo) use the same kernels, and so compute the same
roundings, without measuring again. ``VICMAE_CPU_KERNEL_CACHE`` sets the
file (default ``~/.cache/vicmae_mm/cpu_kernels.json``, under
``XDG_CACHE_HOME`` if set); an empty value keeps choices in the process.

A choice can be forced per kind with an environment variable
(``auto`` or unset: measure):

- ``VICMAE_CPU_LINEAR``: ``blas`` | ``onednn``
- ``VICMAE_CPU_ATTENTION``: ``sdpa`` | ``matmul``
"""
import json
import logging
import os
import os.path as osp
import statistics
import threading
import time
from typing import Callable, Dict, Optional, Tuple

import torch
from mmengine.logging import print_log

__all__ = [
    'CANDIDATES', 'ENV_VARS', 'CACHE_ENV', 'onednn_available', 'select_kernel',
    'kernel_choices', 'reset_kernel_choices'
]

# the default first: it wins near-ties
CANDIDATES = {'linear': ('blas', 'onednn'), 'attention': ('sdpa', 'matmul')}
ENV_VARS = {'linear': 'VICMAE_CPU_LINEAR', 'attention': 'VICMAE_CPU_ATTENTION'}
# another candidate must beat the default's median time by this fraction
MARGIN = 0.05
# at least MIN_ROUNDS timed rounds; cheap probes get more (up to
# MAX_ROUNDS, while under ROUND_BUDGET_S in all), as noise weighs more there
MIN_ROUNDS, MAX_ROUNDS, ROUND_BUDGET_S = 5, 15, 0.05

CACHE_ENV = 'VICMAE_CPU_KERNEL_CACHE'

_choices: Dict[Tuple, str] = {}


def _cache_file() -> Optional[str]:
    path = os.environ.get(CACHE_ENV)
    if path is not None:
        return path or None
    root = os.environ.get('XDG_CACHE_HOME') or osp.expanduser('~/.cache')
    return osp.join(root, 'vicmae_mm', 'cpu_kernels.json')


def _cache_key(key: Tuple) -> str:
    from vicmae_mm.utils.cpu_runtime import cpu_description
    return ' | '.join([cpu_description(), f'torch {torch.__version__}'] +
                      [str(k) for k in key])


def _read_cache(path: str) -> Dict[str, str]:
    try:
        with open(path, encoding='utf-8') as f:
            data = json.load(f)
        return data if isinstance(data, dict) else {}
    except (OSError, ValueError):  # missing or damaged: measure again
        return {}


def _remember(key: Tuple, choice: str) -> None:
    """Add a choice to the cache file (atomically; best effort)."""
    path = _cache_file()
    if path is None:
        return
    # lazy: vicmae_mm.engine imports the models package
    from vicmae_mm.engine.atomic_local_backend import atomic_write
    try:
        data = _read_cache(path)
        data[_cache_key(key)] = choice
        # ranks of a job may write at once: keep each other's temp files
        atomic_write(path,
                     json.dumps(data, indent=1, sort_keys=True).encode(),
                     clean_stale=False)
    except OSError as err:
        print_log(f'CPU kernel choices not cached ({path}: {err})',
                  logger='current', level=logging.WARNING)


def _recalled(kind: str, key: Tuple) -> Optional[str]:
    path = _cache_file()
    if path is None:
        return None
    choice = _read_cache(path).get(_cache_key(key))
    if choice not in CANDIDATES[kind] or (choice == 'onednn'
                                          and not onednn_available()):
        return None
    return choice


def onednn_available() -> bool:
    """Whether oneDNN's dense linear kernel can be called (built in, not
    switched off with ``torch.backends.mkldnn.enabled = False``)."""
    return (torch.backends.mkldnn.is_available()
            and torch.backends.mkldnn.enabled
            and hasattr(torch.ops.mkldnn, '_linear_pointwise'))


def _forced(kind: str) -> str:
    var = ENV_VARS[kind]
    value = os.environ.get(var, 'auto').strip().lower() or 'auto'
    if value != 'auto' and value not in CANDIDATES[kind]:
        raise ValueError(f'{var}={value!r}: choose auto or one of '
                         f'{", ".join(CANDIDATES[kind])}')
    return value


def _in_fresh_thread(fn: Callable):
    """``fn()`` in a new thread, so that the probes' own forward and
    backward run outside the caller's thread-local state: saved-tensor
    hooks (activation checkpointing), grad mode, autocast, dispatch
    modes."""
    box = {}

    def target():
        try:
            box['value'] = fn()
        except BaseException as err:  # re-raised in the caller
            box['error'] = err

    thread = threading.Thread(target=target, name='vicmae-kernel-probe')
    thread.start()
    thread.join()
    if 'error' in box:
        raise box['error']
    return box['value']


def _time_interleaved(runs: Dict[str, Callable[[], None]]) -> Dict[str, float]:
    """Median seconds per candidate; one untimed run each first, then
    rounds in which every candidate runs once (a single candidate is not
    timed)."""
    if len(runs) < 2:
        return dict.fromkeys(runs, 0.0)
    for fn in runs.values():
        fn()
    times = {name: [] for name in runs}
    start = time.perf_counter()
    for i in range(MAX_ROUNDS):
        if i >= MIN_ROUNDS and time.perf_counter() - start > ROUND_BUDGET_S:
            break
        for name, fn in runs.items():
            t = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - t)
    return {name: statistics.median(t) for name, t in times.items()}


def select_kernel(kind: str, shape_class: Tuple,
                  runs: Callable[[], Dict[str, Callable[[], None]]]) -> str:
    """The kernel to use for ``kind`` on ``shape_class``, cached.

    Args:
        kind (str): ``'linear'`` or ``'attention'``.
        shape_class (tuple): What the choice depends on (dtype, sizes); the
            thread count is added here.
        runs (Callable): Builds ``{candidate: fn}``, each ``fn`` running the
            candidate once (forward and backward) on inputs of this shape
            class. Only called when a measurement is needed; candidates that
            cannot run here (oneDNN missing) are left out of it.

    Returns:
        str: One of ``CANDIDATES[kind]``.
    """
    key = (kind, torch.get_num_threads()) + tuple(shape_class)
    choice = _choices.get(key)
    if choice is not None:
        return choice
    forced = _forced(kind)
    if forced != 'auto':
        if kind == 'linear' and forced == 'onednn' and not onednn_available():
            print_log(
                f'{ENV_VARS[kind]}=onednn but oneDNN is not available in '
                'this PyTorch build: using blas',
                logger='current',
                level=logging.WARNING)
            forced = 'blas'
        _choices[key] = forced
        return forced
    recalled = _recalled(kind, key)
    if recalled is not None:
        _choices[key] = recalled
        print_log(
            f'CPU {kind} kernel for {shape_class} (threads '
            f'{torch.get_num_threads()}): {recalled} (measured earlier on '
            f'this machine; {_cache_file()})',
            logger='current')
        return recalled
    start = time.perf_counter()
    medians = _in_fresh_thread(lambda: _time_interleaved(runs()))
    default = CANDIDATES[kind][0]
    if len(medians) < 2:
        choice, detail = default, 'only candidate'
    else:
        best = min(medians, key=medians.get)
        choice = best if medians[best] < (1 - MARGIN) * medians[default] \
            else default
        detail = ', '.join(f'{n} {t * 1e3:.2f} ms' for n, t in medians.items())
        took = (time.perf_counter() - start) * 1e3
        detail += f'; selection took {took:.0f} ms'
    _choices[key] = choice
    _remember(key, choice)
    print_log(
        f'CPU {kind} kernel for {shape_class} (threads '
        f'{torch.get_num_threads()}): {choice} ({detail})',
        logger='current')
    return choice


def kernel_choices() -> Dict[str, str]:
    """Every choice made in this process, ``'kind shape_class' -> kernel``
    (what benchmarks report)."""
    return {' '.join(map(str, k)): v for k, v in _choices.items()}


def reset_kernel_choices() -> None:
    """Forget every choice (the next use measures again)."""
    _choices.clear()
