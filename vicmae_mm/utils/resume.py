# Copyright (c) vicmae_mm contributors. All rights reserved.
"""Read the checkpoint mmengine recorded as a run's last one."""
import os.path as osp
from typing import Optional


def read_last_checkpoint(work_dir: str) -> Optional[str]:
    """The path in ``work_dir/last_checkpoint`` (unchecked), or None."""
    marker = osp.join(work_dir, 'last_checkpoint')
    if not osp.isfile(marker):
        return None
    with open(marker, encoding='utf-8') as f:
        return f.read().strip() or None

