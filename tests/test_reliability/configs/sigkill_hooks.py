# Copyright (c) vicmae_mm contributors. All rights reserved.
"""Test-only hooks that SIGKILL their own training process.

Imported by the ``*_sigkill_*`` test configs through ``custom_imports``
(the tests put this folder on ``PYTHONPATH``). SIGKILL cannot be caught:
no ``finally`` block, atexit handler or flush runs, as when a job is
pre-empted or runs out of memory.
"""
import os
import signal

from mmengine.hooks import Hook
from mmengine.registry import HOOKS


def _sigkill_self() -> None:
    os.kill(os.getpid(), signal.SIGKILL)


@HOOKS.register_module()
class SigkillAfterIterHook(Hook):
    """Kill the process right after iteration ``after_iter`` (1-based).

    ``LOWEST`` priority: runs after ``CheckpointHook``, so a checkpoint due
    at that iteration is complete (and ``last_checkpoint`` names it).

    Args:
        after_iter (int): The iteration after which to die.
    """

    priority = 'LOWEST'

    def __init__(self, after_iter: int) -> None:
        self.after_iter = int(after_iter)

    def after_train_iter(self,
                         runner,
                         batch_idx,
                         data_batch=None,
                         outputs=None) -> None:
        if runner.iter + 1 == self.after_iter:
            _sigkill_self()


@HOOKS.register_module()
class SigkillDuringCheckpointWriteHook(Hook):
    """Kill the process in the middle of writing the checkpoint of
    iteration ``at_iter``.

    The real write path runs (``CheckpointHook`` -> ``save_checkpoint`` ->
    the configured file backend). When the bytes of ``iter_<at_iter>.pth``
    are about to be synced to disk, the file being written is cut to half
    its length (a partial write) and the process is killed.

    Args:
        at_iter (int): Iteration whose checkpoint write is interrupted.
    """

    def __init__(self, at_iter: int) -> None:
        self.target = f'iter_{int(at_iter)}.pth'

    def before_save_checkpoint(self, runner, checkpoint: dict) -> None:
        real_fsync = os.fsync
        target = self.target

        def fsync_then_die(fd):
            path = os.readlink(f'/proc/self/fd/{fd}')
            if target in os.path.basename(path):
                os.ftruncate(fd, os.fstat(fd).st_size // 2)
                _sigkill_self()
            return real_fsync(fd)

        os.fsync = fsync_then_die
