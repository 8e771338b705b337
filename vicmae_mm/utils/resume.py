# Copyright (c) vicmae_mm contributors. All rights reserved.
"""Find the checkpoint to resume from, robust to interrupted runs."""
import glob
import os.path as osp
import re
import zipfile
from typing import Optional

from mmengine.logging import print_log

_CKPT_RE = re.compile(r'^(iter|epoch)_(\d+)\.pth$')


def _loadable(path: str) -> bool:
    """Cheap completeness check: torch checkpoints are zip archives whose
    central directory is written last, so a truncated file fails this."""
    return zipfile.is_zipfile(path)


def read_last_checkpoint(work_dir: str) -> Optional[str]:
    """The path mmengine recorded in ``work_dir/last_checkpoint``.

    Returns:
        str, optional: The path (not checked to exist), or None when the
        marker is missing or empty.
    """
    marker = osp.join(work_dir, 'last_checkpoint')
    if not osp.isfile(marker):
        return None
    with open(marker, encoding='utf-8') as f:
        return f.read().strip() or None


def find_resume_checkpoint(work_dir: str) -> Optional[str]:
    """The checkpoint ``--resume`` (without a path) should continue from.

    mmengine trusts ``work_dir/last_checkpoint``, which it writes
    non-atomically; a kill at the wrong moment leaves it empty or pointing
    at a file that does not exist or is incomplete. This returns the file
    it names when that is a complete file, else the newest ``iter_*.pth`` /
    ``epoch_*.pth`` in ``work_dir`` that is complete, else None. Every fallback
    is logged.

    Args:
        work_dir (str): The run's work directory.

    Returns:
        str, optional: Path of the checkpoint, or None to start fresh.
    """
    last = osp.join(work_dir, 'last_checkpoint')
    named = read_last_checkpoint(work_dir)
    if named and osp.isfile(named) and _loadable(named):
        return named
    candidates = []
    for path in glob.glob(osp.join(glob.escape(work_dir), '*.pth')):
        match = _CKPT_RE.match(osp.basename(path))
        if match:
            candidates.append((int(match.group(2)), osp.getmtime(path), path))
    for _, _, path in sorted(candidates, reverse=True):
        if _loadable(path):
            if osp.isfile(last):
                print_log(
                    f'{last} names {named!r}, which is missing or '
                    f'unreadable; resuming from {path} instead',
                    logger='current', level=30)
            return path
    return None
