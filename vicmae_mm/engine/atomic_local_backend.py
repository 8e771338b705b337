# Copyright (c) vicmae_mm contributors. All rights reserved.
"""A local file backend whose writes are atomic."""
import glob
import os
import os.path as osp
import tempfile
from pathlib import Path
from typing import Union

from mmengine.fileio import LocalBackend, register_backend


@register_backend('atomic_local')
class AtomicLocalBackend(LocalBackend):
    """``LocalBackend`` that writes to a temporary file, fsyncs it and
    renames it over the target.

    A process killed while a checkpoint is written leaves the previous file
    (and ``last_checkpoint``) intact instead of a truncated one. Select it
    with ``default_hooks.checkpoint.backend_args=dict(backend='atomic_local')``
    (the ViC-MAE runtime base does).
    """

    def put(self, obj: bytes, filepath: Union[str, Path]) -> None:
        """Atomically write bytes to ``filepath``."""
        self._atomic_write(obj, filepath, 'wb')

    def put_text(self,
                 obj: str,
                 filepath: Union[str, Path],
                 encoding: str = 'utf-8') -> None:
        """Atomically write text to ``filepath``."""
        self._atomic_write(obj.encode(encoding), filepath, 'wb')

    @staticmethod
    def _atomic_write(data: bytes, filepath: Union[str, Path],
                      mode: str) -> None:
        filepath = str(filepath)
        folder = osp.dirname(osp.abspath(filepath))
        os.makedirs(folder, exist_ok=True)
        prefix = '.' + osp.basename(filepath) + '.'
        # leftovers of writes killed earlier (never valid files)
        for stale in glob.glob(osp.join(glob.escape(folder),
                                        glob.escape(prefix) + '*.tmp')):
            os.remove(stale)
        fd, tmp = tempfile.mkstemp(dir=folder, prefix=prefix, suffix='.tmp')
        try:
            with os.fdopen(fd, mode) as f:
                f.write(data)
                f.flush()
                os.fsync(f.fileno())
            # mkstemp creates 0600; give the file the usual open() mode
            umask = os.umask(0)
            os.umask(umask)
            os.chmod(tmp, 0o666 & ~umask)
            os.replace(tmp, filepath)
        except BaseException:
            if osp.exists(tmp):
                os.remove(tmp)
            raise
