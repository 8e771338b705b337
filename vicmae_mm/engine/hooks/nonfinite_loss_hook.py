# Copyright (c) vicmae_mm contributors. All rights reserved.
"""Stop (or, under AMP, count) iterations whose loss is not finite."""
from typing import Optional

import torch
from mmengine.hooks import Hook
from mmengine.registry import HOOKS

from vicmae_mm.models.utils import any_rank
from vicmae_mm.utils.resume import read_last_checkpoint


class NonFiniteLossError(FloatingPointError):
    """Raised when training produced a NaN/Inf loss."""


@HOOKS.register_module()
class NonFiniteLossHook(Hook):
    """Stop on a NaN/Inf loss, or under AMP count the skipped updates.

    Runs before ``CheckpointHook``; all ranks decide alike (see
    ``docs/reliability.md``, "Non-finite loss").

    Args:
        max_skips (int): Consecutive skipped iterations tolerated under AMP.
    """

    priority = 'VERY_HIGH'

    def __init__(self, max_skips: int = 20) -> None:
        self.max_skips = max_skips
        self.skipped = 0
        self.consecutive = 0

    def after_train_iter(self,
                         runner,
                         batch_idx: int,
                         data_batch=None,
                         outputs: Optional[dict] = None) -> None:
        """Check this iteration's loss terms."""
        terms = {
            k: v.detach() if isinstance(v, torch.Tensor) else torch.tensor(v)
            for k, v in (outputs or {}).items()
            if 'loss' in k and isinstance(v, (torch.Tensor, float))
        }
        if not terms:
            return
        # one flag on the losses' device: one all-reduce, one host sync
        device = next(iter(terms.values())).device
        bad = torch.stack([(~torch.isfinite(v.float())).any().to(device)
                           for v in terms.values()]).any()
        if not any_rank(bad):
            self.consecutive = 0
            return
        iteration = runner.iter + 1
        described = ', '.join(f'{k}={float(v)}' for k, v in terms.items())
        wrapper = runner.optim_wrapper
        amp_skips = getattr(wrapper, 'skip_nonfinite', False) or \
            type(wrapper).__name__ == 'AmpOptimWrapper'
        if amp_skips and self.consecutive < self.max_skips:
            self.skipped += 1
            self.consecutive += 1
            runner.message_hub.update_scalar('train/nonfinite_skipped',
                                             self.skipped)
            runner.logger.warning(
                f'Non-finite loss at iteration {iteration} ({described}); '
                'the AMP optimizer wrapper skips this step '
                f'({self.skipped} skipped so far).')
            return
        last_ckpt = read_last_checkpoint(runner.work_dir)
        raise NonFiniteLossError(
            f'Non-finite loss at iteration {iteration}: {described}'
            f'{"" if bool(bad) else " (on another rank)"}. Training '
            'stopped before saving; the last good checkpoint is '
            f'{last_ckpt or "(none saved yet)"}. Lower the lr, check the '
            'data, or enable AMP loss scaling.')
