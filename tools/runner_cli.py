# Copyright (c) vicmae_mm contributors. All rights reserved.
"""The command line and config adjustments shared by ``tools/train.py``,
``tools/test.py`` and the demo."""
import argparse
import glob
import logging
import os
import os.path as osp
import re
import zipfile
from typing import List, Optional

import torch
import torch.distributed as dist
from mmengine.config import Config, DictAction
from mmengine.dist import broadcast_object_list, is_main_process
from mmengine.logging import print_log

from vicmae_mm.utils.checkpoint import trust_checkpoint
from vicmae_mm.utils.resume import read_last_checkpoint

_AMP_ONLY_KEYS = ('loss_scale', 'dtype', 'use_fsdp')
# Scopes whose CPU code paths do not accept bf16 activations.
_FP32_ONLY_CPU_SCOPES = ('mmdet', 'mmaction')
_CKPT_RE = re.compile(r'^(iter|epoch)_(\d+)\.pth$')


def build_parser(description: str) -> argparse.ArgumentParser:
    """A parser with mmpretrain's common arguments (``--work-dir``,
    ``--cfg-options``, ``--launcher``, ``--local-rank``) and
    ``--trust-checkpoint PATH``; the caller adds its own."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument('--work-dir', help='the dir to save logs and models')
    parser.add_argument(
        '--trust-checkpoint',
        action='append',
        default=[],
        metavar='PATH',
        help='allow full unpickling of this checkpoint file or folder '
        '(only for sources you trust; default loading is weights-only); '
        'repeatable')
    parser.add_argument(
        '--cfg-options',
        nargs='+',
        action=DictAction,
        help='override settings in the config, key=value')
    parser.add_argument(
        '--launcher',
        choices=['none', 'pytorch', 'slurm', 'mpi'],
        default='none',
        help='job launcher')
    parser.add_argument('--local_rank', '--local-rank', type=int, default=0)
    return parser


def parse_args(parser: argparse.ArgumentParser,
               argv: Optional[List[str]] = None) -> argparse.Namespace:
    """Parse, export ``LOCAL_RANK`` and register the trusted checkpoints."""
    args = parser.parse_args(argv)
    os.environ.setdefault('LOCAL_RANK', str(args.local_rank))
    for path in args.trust_checkpoint:
        trust_checkpoint(path)
    return args


def load_config(args: argparse.Namespace) -> Config:
    """The config with the common arguments applied (``--cfg-options``
    last, as in mmpretrain)."""
    cfg = Config.fromfile(args.config)
    cfg.launcher = args.launcher
    if args.work_dir is not None:
        cfg.work_dir = args.work_dir
    elif cfg.get('work_dir', None) is None:
        cfg.work_dir = osp.join('./work_dirs',
                                osp.splitext(osp.basename(args.config))[0])
    if args.cfg_options is not None:
        cfg.merge_from_dict(args.cfg_options)
    return cfg


def prepare_slurm_port() -> None:
    """Derive ``MASTER_PORT`` from ``SLURM_JOB_ID`` unless set: mmengine's
    slurm launcher falls back to 29500, so two jobs on a node collide."""
    if 'MASTER_PORT' not in os.environ and 'SLURM_JOB_ID' in os.environ:
        os.environ['MASTER_PORT'] = str(
            20000 + int(os.environ['SLURM_JOB_ID']) % 20000)


def find_resume_checkpoint(work_dir: str) -> Optional[str]:
    """The checkpoint ``--resume`` (without a path) should continue from.

    mmengine writes ``work_dir/last_checkpoint`` non-atomically, so a kill
    can leave it empty or naming a missing or incomplete file. This returns
    that file if complete, else the newest complete ``iter_*.pth`` /
    ``epoch_*.pth`` in ``work_dir`` (logged), else None. Torch checkpoints
    are zip archives whose central directory is written last, so a
    truncated file fails ``zipfile.is_zipfile``.

    Args:
        work_dir (str): The run's work directory.

    Returns:
        str, optional: Path of the checkpoint, or None to start fresh.
    """
    last = osp.join(work_dir, 'last_checkpoint')
    named = read_last_checkpoint(work_dir)
    if named and zipfile.is_zipfile(named):  # False if missing
        return named
    candidates = []
    for path in glob.glob(osp.join(glob.escape(work_dir), '*.pth')):
        match = _CKPT_RE.match(osp.basename(path))
        if match:
            candidates.append((int(match.group(2)), osp.getmtime(path), path))
    for _, _, path in sorted(candidates, reverse=True):
        if zipfile.is_zipfile(path):
            if osp.isfile(last):
                print_log(
                    f'{last} names {named!r}, which is missing or '
                    f'unreadable; resuming from {path} instead',
                    logger='current', level=logging.WARNING)
            return path
    return None


def resume_latest(runner) -> Optional[str]:
    """Resume ``runner`` from the newest complete checkpoint of its work
    dir, chosen on rank 0 and broadcast so that every rank takes the same
    file. Call after the Runner is built, before ``runner.train()``.

    Returns:
        str, optional: The checkpoint, or None to start from scratch.
    """
    choice = [
        find_resume_checkpoint(runner.work_dir) if is_main_process() else None
    ]
    broadcast_object_list(choice)
    runner._load_from = choice[0]
    runner._resume = choice[0] is not None
    return choice[0]


def use_amp(cfg: Config, enable: bool) -> None:
    """Resolve mixed precision for the device at hand.

    ``AmpOptimWrapper`` on GPU; on CPU, where it refuses to run,
    ``CPUAmpOptimWrapper`` (bf16 autocast), or fp32 for scopes whose CPU
    ops reject bf16. A config's own ``AmpOptimWrapper`` is mapped the same
    way without ``enable``, so GPU recipes run on CPU.
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
    elif kind == 'AmpOptimWrapper':
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
    """bf16 where supported (static scale 1.0: its exponent range needs no
    scaling, the scaler only skips non-finite steps), else fp16."""
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
    wrapper passes ``device_ids=[LOCAL_RANK]``; without CUDA this creates
    the process group itself (``env://``, ``nccl`` becomes ``gloo``) for
    the runner to reuse and sets ``device_ids=None``. Call it after the
    command line is merged, before the runner is built.
    """
    if cfg.get('launcher', 'none') != 'pytorch' or torch.cuda.is_available():
        return
    for var in ('RANK', 'WORLD_SIZE', 'MASTER_ADDR', 'MASTER_PORT'):
        if var not in os.environ:
            raise RuntimeError(
                f'--launcher pytorch: environment variable {var} is not set; '
                'start the job with torchrun (tools/dist_train.sh)')
    dist_cfg = cfg.setdefault('env_cfg', {}).setdefault('dist_cfg', {})
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
    """Barrier, then destroy the default process group (if any): mmengine
    never does, and a gloo rank reaching shutdown while another still talks
    to rank 0's store can die in ``std::terminate`` after a good run."""
    if dist.is_available() and dist.is_initialized():
        dist.barrier()
        dist.destroy_process_group()
