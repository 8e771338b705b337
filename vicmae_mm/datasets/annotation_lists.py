# Copyright (c) vicmae_mm contributors. All rights reserved.
"""Read mmaction2-style ``path [label]`` annotation lists (format and
errors: docs/data_preparation.md, "Annotation lists")."""
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
    """``(relative_path, label)`` per line of ``ann_file``; label -1 if none.

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
    """Sorted relative paths of files under ``root`` with ``extensions``."""
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
