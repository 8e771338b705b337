# Copyright (c) vicmae_mm contributors. All rights reserved.
"""Run a function on N local gloo processes and collect what each returns."""
import os
import socket
import tempfile
from typing import Any, Callable, List

import torch
import torch.distributed as dist
import torch.multiprocessing as mp


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
    finally:
        dist.destroy_process_group()


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
