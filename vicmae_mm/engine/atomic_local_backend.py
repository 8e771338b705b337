# Copyright (c) vicmae_mm contributors. All rights reserved.
"""Atomic local writes, and the file backend that uses them."""
import glob
import os
import os.path as osp
import tempfile
from pathlib import Path
from typing import Callable, Union

from mmengine.fileio import LocalBackend, register_backend


def atomic_write(filepath: Union[str, Path],
                 data: Union[bytes, Callable[[str], None]],
                 clean_stale: bool = True) -> None:
    """Write ``filepath`` atomically (fsynced temporary file, renamed).

    Args:
        data (bytes | callable): The content, or a function that writes the
            file whose path it is given.
        clean_stale (bool): Remove leftovers of earlier killed writes
            (``.<name>.*.tmp``); not where processes write concurrently.
    """
    filepath = str(filepath)
    folder = osp.dirname(osp.abspath(filepath))
    os.makedirs(folder, exist_ok=True)
    prefix = '.' + osp.basename(filepath) + '.'
    pattern = osp.join(glob.escape(folder), glob.escape(prefix) + '*.tmp')
    for stale in glob.glob(pattern) if clean_stale else ():
        os.remove(stale)
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=prefix, suffix='.tmp')
    try:
        with os.fdopen(fd, 'wb') as f:
            if callable(data):
                data(tmp)  # through its own handle; fsync syncs the file
            else:
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


@register_backend('atomic_local')
class AtomicLocalBackend(LocalBackend):
    """``LocalBackend`` whose writes are atomic (:func:`atomic_write`)."""

    def put(self, obj: bytes, filepath: Union[str, Path]) -> None:
        """Atomically write bytes to ``filepath``."""
        atomic_write(filepath, obj)

    def put_text(self,
                 obj: str,
                 filepath: Union[str, Path],
                 encoding: str = 'utf-8') -> None:
        """Atomically write text to ``filepath``."""
        atomic_write(filepath, obj.encode(encoding))
