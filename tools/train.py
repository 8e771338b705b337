# Copyright (c) vicmae_mm contributors. All rights reserved.
"""Train with an mmengine Runner (same interface as mmpretrain's train.py)."""
import argparse
from typing import List, Optional

import torch
from mmengine.config import Config
from mmengine.runner import Runner

import vicmae_mm  # noqa: F401  (registers components, applies compat fixes)
from cpu_runtime import configure_cpu_runtime
from runner_cli import (build_parser, ensure_weights_only_checkpoints,
                        finish_distributed, load_config, parse_args,
                        prepare_cpu_distributed, prepare_slurm_port,
                        resume_latest, use_amp)


def get_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    parser = build_parser('Train a model')
    parser.add_argument('config', help='train config file path')
    parser.add_argument(
        '--resume',
        nargs='?',
        type=str,
        const='auto',
        help='resume from the given checkpoint; without a value, from the '
        'latest complete checkpoint in the work dir')
    parser.add_argument(
        '--amp',
        action='store_true',
        help='mixed precision: bf16 on GPUs that support it, else fp16 with '
        'loss scaling; bf16 autocast on CPU')
    parser.add_argument(
        '--no-validate',
        action='store_true',
        help='skip validation during training')
    parser.add_argument(
        '--auto-scale-lr',
        action='store_true',
        help='scale the lr by total batch size / auto_scale_lr.base_batch_size')
    parser.add_argument(
        '--no-pin-memory',
        action='store_true',
        help='disable pin_memory in dataloaders')
    parser.add_argument(
        '--no-persistent-workers',
        action='store_true',
        help='disable persistent_workers in dataloaders')
    return parse_args(parser, argv)


def merge_args(cfg: Config, args: argparse.Namespace) -> Config:
    """Apply the training arguments to the config (``--cfg-options`` was
    applied by :func:`load_config`)."""
    use_amp(cfg, args.amp)
    if args.no_validate:
        cfg.val_cfg = None
        cfg.val_dataloader = None
        cfg.val_evaluator = None
    if args.resume is not None and args.resume != 'auto':
        cfg.resume = True
        cfg.load_from = args.resume
    if args.auto_scale_lr:
        cfg.setdefault('auto_scale_lr', {})
        cfg.auto_scale_lr.enable = True
    for name in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        loader = cfg.get(name, None)
        if loader is None:
            continue
        if args.no_pin_memory:
            loader['pin_memory'] = False
        if args.no_persistent_workers:
            loader['persistent_workers'] = False
    ensure_weights_only_checkpoints(cfg)
    return cfg


def main(argv: Optional[List[str]] = None) -> None:
    args = get_args(argv)
    cfg = merge_args(load_config(args), args)
    prepare_slurm_port()
    if not torch.cuda.is_available():
        # the settings tools/analysis/benchmark_pretrain.py measures with
        configure_cpu_runtime()
    # torchrun without GPUs: gloo process group, DDP without device_ids
    prepare_cpu_distributed(cfg)
    if 'runner_type' not in cfg:
        runner = Runner.from_cfg(cfg)
    else:
        from mmengine.registry import RUNNERS
        runner = RUNNERS.build(cfg)
    if args.resume == 'auto':
        # chosen once the process group exists: rank 0 decides for all
        resume_latest(runner)
    runner.train()
    finish_distributed()


if __name__ == '__main__':
    main()
