# Copyright (c) vicmae_mm contributors. All rights reserved.
"""Run a function on N local gloo processes and collect what each returns."""
import os
import socket
import sys
import tempfile
from typing import Any, Callable, List

import torch
import torch.distributed as dist
import torch.multiprocessing as mp

from runner_cli import finish_distributed


def free_port() -> int:
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


def _worker(rank: int, world_size: int, port: int, fn: Callable,
            out_dir: str, args: tuple) -> None:
    os.environ.update(
        MASTER_ADDR='127.0.0.1', MASTER_PORT=str(port), RANK=str(rank),
        WORLD_SIZE=str(world_size), LOCAL_RANK=str(rank))
    torch.set_num_threads(1)
    dist.init_process_group('gloo', rank=rank, world_size=world_size)
    try:
        result = fn(rank, world_size, *args)
        torch.save(result, os.path.join(out_dir, f'rank{rank}.pt'))
        # what tools/train.py does at the end: barrier, then destroy
        finish_distributed()
    finally:
        if dist.is_initialized():  # fn failed: no barrier, just tear down
            dist.destroy_process_group()
    # The result is on disk. Leave without the interpreter's teardown: now
    # and then, on a loaded 2-core machine, a gloo child died at exit
    # ("terminate called without an active exception", SIGABRT) after all
    # its work had succeeded.
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)


def run_distributed(fn: Callable, world_size: int, *args) -> List[Any]:
    """Spawn ``world_size`` gloo processes running ``fn(rank, ws, *args)``.

    ``fn`` must be importable (module level). Returns the per-rank results.
    """
    with tempfile.TemporaryDirectory() as out_dir:
        mp.spawn(
            _worker,
            args=(world_size, free_port(), fn, out_dir, args),
            nprocs=world_size,
            join=True)
        return [
            torch.load(os.path.join(out_dir, f'rank{r}.pt'),
                       weights_only=True) for r in range(world_size)
        ]
