# Copyright (c) vicmae_mm contributors. All rights reserved.
"""Find the checkpoint to resume from, robust to interrupted runs."""
import glob
import os.path as osp
import re
import zipfile
from typing import Optional

from mmengine.logging import print_log

_CKPT_RE = re.compile(r'^(iter|epoch)_(\d+)\.pth$')


def read_last_checkpoint(work_dir: str) -> Optional[str]:
    """The path in ``work_dir/last_checkpoint`` (unchecked), or None."""
    marker = osp.join(work_dir, 'last_checkpoint')
    if not osp.isfile(marker):
        return None
    with open(marker, encoding='utf-8') as f:
        return f.read().strip() or None


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
                    logger='current', level=30)
            return path
    return None
