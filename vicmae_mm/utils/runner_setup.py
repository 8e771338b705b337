# Copyright (c) vicmae_mm contributors. All rights reserved.
"""Config adjustments shared by tools/train.py and tools/test.py."""
import logging
import os

import torch
import torch.distributed as dist
from mmengine.config import Config
from mmengine.logging import print_log

_AMP_ONLY_KEYS = ('loss_scale', 'dtype', 'use_fsdp')
# Scopes whose CPU code paths do not accept bf16 activations.
_FP32_ONLY_CPU_SCOPES = ('mmdet', 'mmaction')


def use_amp(cfg: Config, enable: bool) -> None:
    """Resolve mixed precision for the device at hand.

    ``AmpOptimWrapper`` (fp16/bf16 + loss scaling) on GPU; on CPU, where it
    refuses to run, :class:`CPUAmpOptimWrapper` (bf16 autocast). With
    ``enable=False`` an ``AmpOptimWrapper`` asked for by the config is still
    mapped to the CPU wrapper when no GPU is present, so GPU recipes run.
    """
    optim = cfg.get('optim_wrapper')
    if optim is None:
        return
    kind = optim.get('type', 'OptimWrapper')
    if enable and kind not in ('AmpOptimWrapper', 'CPUAmpOptimWrapper'):
        if kind != 'OptimWrapper':
            print_log(
                f'--amp ignored: optim_wrapper type {kind} is custom',
                logger='current',
                level=logging.WARNING)
            return
        kind = 'AmpOptimWrapper'
        optim.setdefault('loss_scale', 'dynamic')
    if kind == 'AmpOptimWrapper' and torch.cuda.is_available():
        _choose_gpu_amp_dtype(optim)
    if kind == 'AmpOptimWrapper' and not torch.cuda.is_available():
        for key in _AMP_ONLY_KEYS:
            optim.pop(key, None)
        scope = cfg.get('default_scope', None)
        if scope in _FP32_ONLY_CPU_SCOPES:
            kind = 'OptimWrapper'
            print_log(
                f'No GPU: AMP disabled for scope {scope!r} (mmcv CPU ops '
                'such as nms/RoIAlign and mmaction2 hard-label losses reject '
                'bf16); training in fp32',
                logger='current',
                level=logging.WARNING)
        else:
            kind = 'CPUAmpOptimWrapper'
            print_log(
                'No GPU: using CPUAmpOptimWrapper (bf16 autocast) for AMP',
                logger='current')
    optim['type'] = kind


def _choose_gpu_amp_dtype(optim: dict) -> None:
    """bf16 on GPUs that support it (Ampere and newer), else fp16 with
    dynamic loss scaling; a ``dtype`` set by the config is kept.

    bf16 has fp32's exponent range, so its scale is a static 1.0: the grad
    scaler then only skips non-finite steps, never rescales.
    """
    if optim.get('dtype') is None:
        optim['dtype'] = ('bfloat16'
                          if torch.cuda.is_bf16_supported() else 'float16')
    if optim['dtype'] == 'bfloat16' and optim.get('loss_scale',
                                                  'dynamic') == 'dynamic':
        optim['loss_scale'] = 1.0
    print_log(
        f'AMP on GPU: {optim["dtype"]}, loss_scale={optim.get("loss_scale")}',
        logger='current')


def ensure_weights_only_checkpoints(cfg: Config) -> None:
    """Add ``WeightsOnlyCheckpointHook`` unless the config has it."""
    hooks = list(cfg.get('custom_hooks', None) or [])
    if not any(h.get('type') == 'WeightsOnlyCheckpointHook' for h in hooks):
        hooks.append(dict(type='WeightsOnlyCheckpointHook'))
    cfg.custom_hooks = hooks


def prepare_cpu_distributed(cfg: Config) -> None:
    """Make ``--launcher pytorch`` (torchrun) work without GPUs.

    mmengine's ``init_dist`` calls ``torch.cuda.set_device`` and its DDP
    wrapper passes ``device_ids=[LOCAL_RANK]``. Without CUDA this creates the
    process group itself (``env://``; ``nccl`` becomes ``gloo``), which the
    runner reuses, and sets ``device_ids=None``. Call it after the command
    line is merged into ``cfg``, before the runner is built.
    """
    if cfg.get('launcher', 'none') != 'pytorch' or torch.cuda.is_available():
        return
    for var in ('RANK', 'WORLD_SIZE', 'MASTER_ADDR', 'MASTER_PORT'):
        if var not in os.environ:
            raise RuntimeError(
                f'--launcher pytorch: environment variable {var} is not set; '
                'start the job with torchrun (tools/dist_train.sh)')
    env_cfg = cfg.setdefault('env_cfg', {})
    dist_cfg = env_cfg.setdefault('dist_cfg', {})
    backend = dist_cfg.get('backend', 'gloo')
    if backend == 'nccl':
        print_log(
            'No GPU: using the gloo backend instead of nccl',
            logger='current',
            level=logging.WARNING)
        backend = dist_cfg['backend'] = 'gloo'
    if not dist.is_initialized():
        extra = {
            k: v
            for k, v in dist_cfg.items()
            if k not in ('backend', 'init_backend')
        }
        dist.init_process_group(backend=backend, init_method='env://', **extra)
    wrapper = cfg.get('model_wrapper_cfg', None)
    if wrapper is None:
        wrapper = dict(
            type='MMDistributedDataParallel',
            broadcast_buffers=False,
            find_unused_parameters=cfg.get('find_unused_parameters', False))
    wrapper.setdefault('device_ids', None)
    cfg.model_wrapper_cfg = wrapper


def finish_distributed() -> None:
    """Barrier, then destroy the default process group (if any).

    mmengine never destroys it; with gloo a rank reaching interpreter
    shutdown while another still talks to rank 0's store could die in
    ``std::terminate`` (exit -6) after a successful run.
    """
    if dist.is_available() and dist.is_initialized():
        dist.barrier()
        dist.destroy_process_group()


def keep_freed_memory_in_process(top_pad: int = 1 << 30) -> bool:
    """Stop glibc from returning freed tensor memory to the OS between steps.

    Each step reallocates the same activation sizes; glibc's default trims
    and unmaps them on free, so the next step page-faults them back (about
    5% of a ViT-B/16 CPU step, ``tools/analysis/benchmark_pretrain.py``).
    RSS then stays at its peak. A no-op outside glibc.

    Args:
        top_pad (int): Extra bytes requested from the OS at each heap growth.
            Defaults to 1 GiB.

    Returns:
        bool: Whether the settings were applied.
    """
    import ctypes
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
