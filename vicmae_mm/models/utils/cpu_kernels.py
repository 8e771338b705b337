# Copyright (c) vicmae_mm contributors. All rights reserved.
"""CPU kernels for the ViT block, chosen by timing them on this machine and
cached (docs/benchmarks/pretraining_speed.md, What makes it fast, 2)."""
import json
import logging
import os
import os.path as osp
import platform
import statistics
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Callable, Dict, Optional, Tuple

import torch
from mmengine.logging import print_log

__all__ = [
    'CANDIDATES', 'ENV_VARS', 'CACHE_ENV', 'cpu_description',
    'onednn_available', 'select_kernel', 'kernel_choices',
    'reset_kernel_choices'
]

# the default first: it wins near-ties
CANDIDATES = {'linear': ('blas', 'onednn'), 'attention': ('sdpa', 'matmul')}
ENV_VARS = {'linear': 'VICMAE_CPU_LINEAR', 'attention': 'VICMAE_CPU_ATTENTION'}
# another candidate must beat the default's median time by this fraction
MARGIN = 0.05
# cheap probes are noisier: more rounds, up to MAX_ROUNDS within the budget
MIN_ROUNDS, MAX_ROUNDS, ROUND_BUDGET_S = 5, 15, 0.05

CACHE_ENV = 'VICMAE_CPU_KERNEL_CACHE'
# flags that decide which GEMM / attention kernels a CPU can run
_KERNEL_FLAGS = ('avx2', 'avx512f', 'avx512_bf16', 'avx512_fp16', 'amx_bf16')

_choices: Dict[Tuple, str] = {}


def _cache_file() -> Optional[str]:
    path = os.environ.get(CACHE_ENV)
    if path is not None:
        return path or None
    root = os.environ.get('XDG_CACHE_HOME') or osp.expanduser('~/.cache')
    return osp.join(root, 'vicmae_mm', 'cpu_kernels.json')


def cpu_description() -> str:
    """CPU model, vendor, family/model and kernel flags (the cache's key)."""
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
    name = info.get('model name', 'unknown CPU')
    return (f'{name} ({info.get("vendor_id", "?")} family '
            f'{info.get("cpu family", "?")} model {info.get("model", "?")}; '
            f'{have})')


def _cache_key(key: Tuple) -> str:
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
    """Whether oneDNN's linear kernel is built in and not switched off."""
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
    # escapes the caller's saved-tensor hooks, grad/autocast/dispatch modes
    with ThreadPoolExecutor(
            1, thread_name_prefix='vicmae-kernel-probe') as pool:
        return pool.submit(fn).result()


def _time_interleaved(runs: Dict[str, Callable[[], None]]) -> Dict[str, float]:
    """Median seconds per candidate over interleaved rounds, after warm-up."""
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
    """The kernel for ``kind`` on ``shape_class`` and this thread count.

    ``runs()`` builds ``{candidate: fn}`` of the candidates that run here,
    each ``fn`` one forward and backward; it is called only to measure.
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
                logger='current', level=logging.WARNING)
            forced = 'blas'
        _choices[key] = forced
        return forced
    what = (f'CPU {kind} kernel for {shape_class} (threads '
            f'{torch.get_num_threads()})')
    recalled = _recalled(kind, key)
    if recalled is not None:
        _choices[key] = recalled
        print_log(f'{what}: {recalled} (measured earlier on this machine; '
                  f'{_cache_file()})', logger='current')
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
    print_log(f'{what}: {choice} ({detail})', logger='current')
    return choice


def kernel_choices() -> Dict[str, str]:
    """Every choice of this process, ``'kind shape_class' -> kernel``."""
    return {' '.join(map(str, k)): v for k, v in _choices.items()}


def reset_kernel_choices() -> None:
    """Forget every choice (the next use measures again)."""
    _choices.clear()
