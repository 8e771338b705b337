# Copyright (c) vicmae_mm contributors. All rights reserved.
"""Read mmaction2-style annotation lists (``path [label]``).

One sample per line: a path relative to the data prefix, optionally
followed by an integer label (Kinetics, Something-Something, Moments in
Time lists all use this form). Blank lines and lines starting with ``#``
are ignored. Anything else is an error naming the file and line number.
"""
import os
import os.path as osp
from typing import List, Optional, Sequence, Tuple

from mmengine import fileio

VIDEO_EXTENSIONS = ('.mp4', '.avi', '.mkv', '.webm', '.mov', '.m4v', '.flv',
                    '.mpg', '.mpeg', '.wmv', '.3gp')


class AnnotationFormatError(ValueError):
    """A malformed annotation line; the message gives file and line."""


def parse_annotation_list(
        ann_file: str,
        backend_args: Optional[dict] = None) -> List[Tuple[str, int]]:
    """Parse ``path [label]`` lines.

    Args:
        ann_file (str): The list file.
        backend_args (dict, optional): mmengine file backend arguments.

    Returns:
        list[tuple[str, int]]: ``(relative_path, label)``; label is -1 on
        lines without one.

    Raises:
        FileNotFoundError: If ``ann_file`` does not exist.
        AnnotationFormatError: On a malformed line (file:line in message).
    """
    if not fileio.exists(ann_file, backend_args=backend_args):
        raise FileNotFoundError(f'annotation file not found: {ann_file}')
    try:
        text = fileio.get_text(ann_file, backend_args=backend_args)
    except UnicodeDecodeError as err:
        raise AnnotationFormatError(
            f'{ann_file}: not a UTF-8 text annotation list ({err})') from None
    entries = []
    for lineno, raw in enumerate(text.splitlines(), start=1):
        fields = raw.split()
        if not fields or fields[0].startswith('#'):
            continue
        where = f'{ann_file}:{lineno}'
        if len(fields) > 2:
            raise AnnotationFormatError(
                f'{where}: expected "path [label]", got {len(fields)} '
                f'fields: {raw!r}')
        label = -1
        if len(fields) == 2:
            try:
                label = int(fields[1])
            except ValueError:
                raise AnnotationFormatError(
                    f'{where}: label {fields[1]!r} is not an integer: '
                    f'{raw!r}') from None
            if label < 0:
                raise AnnotationFormatError(
                    f'{where}: negative label {label}: {raw!r}')
        entries.append((fields[0], label))
    return entries


def scan_folder(root: str, extensions: Sequence[str]) -> List[str]:
    """Relative paths of the files under ``root`` with ``extensions``
    (case-insensitive), sorted, following symlinks."""
    if not osp.isdir(root):
        raise FileNotFoundError(f'data folder not found: {root}')
    exts = tuple(e.lower() for e in extensions)
    found = []
    for dirpath, _, filenames in os.walk(root, followlinks=True):
        found += [
            osp.relpath(osp.join(dirpath, name), root).replace(os.sep, '/')
            for name in filenames if name.lower().endswith(exts)
        ]
    return sorted(found)
