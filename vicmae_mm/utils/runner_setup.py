# Copyright (c) vicmae_mm contributors. All rights reserved.
"""Config adjustments shared by tools/train.py and tools/test.py."""
import logging

import torch
from mmengine.config import Config
from mmengine.logging import print_log

_AMP_ONLY_KEYS = ('loss_scale', 'dtype', 'use_fsdp')


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
            print_log(f'--amp ignored: optim_wrapper type {kind} is custom',
                      logger='current', level=logging.WARNING)
            return
        kind = 'AmpOptimWrapper'
        optim.setdefault('loss_scale', 'dynamic')
    if kind == 'AmpOptimWrapper' and not torch.cuda.is_available():
        for key in _AMP_ONLY_KEYS:
            optim.pop(key, None)
        kind = 'CPUAmpOptimWrapper'
        print_log('No GPU: using CPUAmpOptimWrapper (bf16 autocast) for AMP',
                  logger='current')
    optim['type'] = kind


def ensure_weights_only_checkpoints(cfg: Config) -> None:
    """Add ``WeightsOnlyCheckpointHook`` unless the config has it."""
    hooks = list(cfg.get('custom_hooks', None) or [])
    if not any(h.get('type') == 'WeightsOnlyCheckpointHook' for h in hooks):
        hooks.append(dict(type='WeightsOnlyCheckpointHook'))
    cfg.custom_hooks = hooks
