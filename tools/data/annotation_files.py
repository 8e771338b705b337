# Copyright (c) vicmae_mm contributors. All rights reserved.
"""Build and write mmaction2-style annotation lists (``path [label]``) for
the tools in this folder; reading them is
:func:`vicmae_mm.datasets.annotation_lists.parse_annotation_list`."""
import os
import os.path as osp
from typing import Dict, List, Sequence, Tuple

from vicmae_mm.datasets.annotation_lists import scan_folder

IMAGE_EXTENSIONS = ('.jpg', '.jpeg', '.png', '.ppm', '.bmp', '.pgm', '.tif',
                    '.tiff', '.webp')


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
