# Copyright (c) vicmae_mm contributors. All rights reserved.
"""Per-epoch summary of skipped bad files and clamped frame gaps."""
import logging
from collections import Counter
from typing import Optional

from mmengine.dist import all_gather_object, get_world_size, is_main_process
from mmengine.hooks import Hook
from mmengine.logging import print_log
from mmengine.registry import HOOKS


@HOOKS.register_module()
class DataSkipSummaryHook(Hook):
    """Log, per epoch, every bad file the data pipeline skipped.

    Gathers the samples' ``skipped_samples`` and ``gap_clamped`` (keep it in
    ``PackInputs(meta_keys=...)``) meta from all ranks; see
    ``docs/data_preparation.md``. In mmengine's root registry.

    Args:
        interval (int, optional): Also log every ``interval`` iterations.
        max_listed (int): Files listed per summary.
    """

    priority = 'NORMAL'  # before LoggerHook: counts log with their iteration

    def __init__(self,
                 interval: Optional[int] = None,
                 max_listed: int = 50) -> None:
        if interval is not None and (not isinstance(interval, int)
                                     or interval <= 0):
            raise ValueError(f'DataSkipSummaryHook: interval must be a '
                             f'positive int or None, got {interval!r}')
        self.interval = interval
        self.max_listed = max_listed
        self._reset()

    def _reset(self) -> None:
        self._kinds, self._skipped, self._clamped = Counter(), [], Counter()

    def before_train(self, runner) -> None:
        self._reset()

    def after_train_iter(self,
                         runner,
                         batch_idx: int,
                         data_batch=None,
                         outputs=None) -> None:
        """Collect the batch's records."""
        samples = data_batch.get('data_samples') if isinstance(
            data_batch, dict) else None
        skipped = clamped = 0
        for sample in samples or []:
            meta = getattr(sample, 'metainfo', {})
            self._kinds[meta.get('sample_kind', 'sample')] += 1
            records = meta.get('skipped_samples', []) or []
            self._skipped.extend(records)
            skipped += len(records)
            if meta.get('gap_clamped'):
                self._clamped[meta.get('filename', '<unknown video>')] += 1
                clamped += 1
        runner.message_hub.update_scalar('train/data_skipped', skipped)
        runner.message_hub.update_scalar('train/data_gap_clamped', clamped)
        if self.interval and self.every_n_train_iters(runner, self.interval):
            self._report(runner, f'iter {runner.iter + 1}')

    def after_train_epoch(self, runner) -> None:
        """Log the epoch's summary."""
        self._report(runner, f'epoch {runner.epoch + 1}')

    def _report(self, runner, when: str) -> None:
        if get_world_size() == 1 and not self._kinds:
            return  # nothing new since the last summary
        local = dict(kinds=dict(self._kinds),
                     skipped=list(self._skipped),
                     clamped=dict(self._clamped))
        self._reset()
        kinds, clamped, skipped = Counter(), Counter(), []
        for part in all_gather_object(local):
            kinds.update(part['kinds'])
            clamped.update(part['clamped'])
            skipped.extend(part['skipped'])
        if not is_main_process() or not kinds:
            return
        seen = ', '.join(f'{n} {k}s' for k, n in sorted(kinds.items()))
        lines = [
            f'data summary ({when}): {sum(kinds.values())} samples '
            f'({seen or "none"}); {len(skipped)} bad files skipped; '
            f'{sum(clamped.values())} frame gaps clamped on short videos'
        ]
        by_file = Counter((r.get('path'), r.get('reason')) for r in skipped)
        for (path, reason), n in by_file.most_common(self.max_listed):
            # loader messages usually name the file already
            text = reason if path and path in reason else f'{path}: {reason}'
            lines.append(f'  skipped x{n}: {text}')
        if len(by_file) > self.max_listed:
            lines.append(f'  ... and {len(by_file) - self.max_listed} more')
        for path, n in clamped.most_common(self.max_listed):
            lines.append(f'  gap clamped x{n}: {path}')
        print_log('\n'.join(lines),
                  logger='current',
                  level=logging.WARNING if skipped else logging.INFO)
