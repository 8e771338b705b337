# Copyright (c) vicmae_mm contributors. All rights reserved.
"""The command line shared by ``tools/train.py`` and ``tools/test.py``."""
import argparse
import os
import os.path as osp
from typing import List, Optional

from mmengine.config import Config, DictAction
from mmengine.dist import broadcast_object_list, is_main_process

from .checkpoint import trust_checkpoint
from .resume import find_resume_checkpoint


def build_parser(description: str) -> argparse.ArgumentParser:
    """A parser with the arguments every tool takes: ``--work-dir``,
    ``--trust-checkpoint PATH``, ``--cfg-options``, ``--launcher`` and
    ``--local-rank`` (mmpretrain's names). The caller adds the positionals
    and its own options."""
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
    last, so it overrides everything, as in mmpretrain)."""
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
    """Give every slurm job its own rendezvous port.

    mmengine's slurm launcher falls back to port 29500, so two jobs sharing
    a node collide. The port is derived from ``SLURM_JOB_ID`` (the same on
    every task of a job) unless ``MASTER_PORT`` is set.
    """
    if 'MASTER_PORT' not in os.environ and 'SLURM_JOB_ID' in os.environ:
        os.environ['MASTER_PORT'] = str(
            20000 + int(os.environ['SLURM_JOB_ID']) % 20000)


def resume_latest(runner) -> Optional[str]:
    """Make ``runner`` resume from the newest complete checkpoint of its
    work dir, chosen on rank 0 and broadcast, so that every rank of every
    node resumes from the same file (ranks listing a shared folder while
    rank 0 writes could otherwise disagree).

    Call after the Runner is built (the process group exists) and before
    ``runner.train()``.

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
