# Copyright (c) vicmae_mm contributors. All rights reserved.
"""Read and build mmaction2-style annotation lists (``path [label]``).

One sample per line: a path relative to the data prefix, optionally
followed by an integer label (Kinetics, Something-Something, Moments in
Time lists all use this form). Blank lines and lines starting with ``#``
are ignored. Anything else is an error naming the file and line number.
"""
import os
import os.path as osp
from typing import Dict, List, Optional, Sequence, Tuple

from mmengine import fileio

VIDEO_EXTENSIONS = ('.mp4', '.avi', '.mkv', '.webm', '.mov', '.m4v', '.flv',
                    '.mpg', '.mpeg', '.wmv', '.3gp')
IMAGE_EXTENSIONS = ('.jpg', '.jpeg', '.png', '.ppm', '.bmp', '.pgm', '.tif',
                    '.tiff', '.webp')


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
        line = raw.strip()
        if not line or line.startswith('#'):
            continue
        fields = line.split()
        if len(fields) > 2:
            raise AnnotationFormatError(
                f'{ann_file}:{lineno}: expected "path [label]", got '
                f'{len(fields)} fields: {raw!r}')
        label = -1
        if len(fields) == 2:
            try:
                label = int(fields[1])
            except ValueError:
                raise AnnotationFormatError(
                    f'{ann_file}:{lineno}: label {fields[1]!r} is not an '
                    f'integer: {raw!r}') from None
            if label < 0:
                raise AnnotationFormatError(
                    f'{ann_file}:{lineno}: negative label {label}: {raw!r}')
        entries.append((fields[0], label))
    return entries


def scan_folder(root: str, extensions: Sequence[str]) -> List[str]:
    """Relative paths of the files under ``root`` with ``extensions``
    (case-insensitive), sorted, following symlinks."""
    if not osp.isdir(root):
        raise FileNotFoundError(f'data folder not found: {root}')
    exts = tuple(e.lower() for e in extensions)
    found = []
    for dirpath, dirnames, filenames in os.walk(root, followlinks=True):
        dirnames.sort()
        for name in filenames:
            if name.lower().endswith(exts):
                found.append(
                    osp.relpath(osp.join(dirpath, name),
                                root).replace(os.sep, '/'))
    return sorted(found)


def build_class_folder_list(
        root: str,
        extensions: Sequence[str]) -> Tuple[List[Tuple[str, int]], List[str]]:
    """Annotation entries from a class-per-subfolder tree.

    ``root/<class>/**/<file>`` becomes ``(<class>/**/<file>, label)`` with
    labels numbering the class folders in sorted order.

    Args:
        root (str): The tree's root.
        extensions (Sequence[str]): File extensions to keep.

    Returns:
        tuple: ``(entries, classes)``.
    """
    if not osp.isdir(root):
        raise FileNotFoundError(f'data folder not found: {root}')
    classes = sorted(
        d for d in os.listdir(root) if osp.isdir(osp.join(root, d)))
    if not classes:
        raise ValueError(f'{root} has no class sub-folders')
    label_of: Dict[str, int] = {c: i for i, c in enumerate(classes)}
    entries = []
    for cls in classes:
        for rel in scan_folder(osp.join(root, cls), extensions):
            entries.append((f'{cls}/{rel}', label_of[cls]))
    return entries, classes


def write_annotation_list(path: str,
                          entries: Sequence[Tuple[str, int]],
                          with_label: bool = True) -> None:
    """Write ``path [label]`` lines (paths with whitespace are refused,
    since the format splits on whitespace)."""
    lines = []
    for rel, label in entries:
        if any(ch.isspace() for ch in rel):
            raise ValueError(f'path with whitespace cannot be written to an '
                             f'annotation list: {rel!r}')
        lines.append(f'{rel} {label}' if with_label and label >= 0 else rel)
    os.makedirs(osp.dirname(osp.abspath(path)), exist_ok=True)
    with open(path, 'w', encoding='utf-8') as f:
        f.write('\n'.join(lines) + ('\n' if lines else ''))
