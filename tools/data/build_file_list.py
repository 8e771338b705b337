# Copyright (c) vicmae_mm contributors. All rights reserved.
"""Build an annotation list (``path label``) from a class-per-folder tree.

    python tools/data/build_file_list.py data/kinetics400/videos_train \
        data/kinetics400/kinetics400_train_list_videos.txt

``ROOT/<class>/**/<file>`` becomes ``<class>/**/<file> <label>``, labels
numbering the class folders in sorted order (written to ``--classes``).
With ``--no-label`` (or ``--flat``: scan ROOT without class folders) the
list has paths only, e.g. for unlabeled pretraining videos.
"""
import argparse
import os.path as osp
import sys

from vicmae_mm.datasets.annotation_lists import VIDEO_EXTENSIONS, scan_folder

# this folder's own modules, also when the tool is loaded by path
sys.path.insert(0, osp.dirname(osp.abspath(__file__)))
# yapf: disable
from annotation_files import (IMAGE_EXTENSIONS,  # noqa: E402
                              build_class_folder_list, write_annotation_list)
# yapf: enable


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('root', help='folder to scan')
    parser.add_argument('out', help='annotation list to write')
    parser.add_argument(
        '--kind',
        choices=['videos', 'images'],
        default='videos',
        help='which file extensions to list (default: videos)')
    parser.add_argument(
        '--extensions',
        nargs='+',
        help='explicit extensions, e.g. .mp4 .webm (overrides --kind)')
    parser.add_argument(
        '--flat',
        action='store_true',
        help='no class folders: list every file under ROOT without labels')
    parser.add_argument(
        '--no-label', action='store_true', help='write paths only')
    parser.add_argument(
        '--classes',
        help='where to write the class names, one per line, in label order '
        '(default: OUT with suffix _classes.txt)')
    return parser.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    exts = args.extensions or (VIDEO_EXTENSIONS
                               if args.kind == 'videos' else IMAGE_EXTENSIONS)
    exts = [e if e.startswith('.') else f'.{e}' for e in exts]
    if args.flat:
        entries = [(p, -1) for p in scan_folder(args.root, exts)]
        classes = []
    else:
        entries, classes = build_class_folder_list(args.root, exts)
    if not entries:
        print(
            f'no files with extensions {exts} under {args.root}',
            file=sys.stderr)
        return 1
    write_annotation_list(args.out, entries, with_label=not args.no_label)
    if classes:
        classes_file = args.classes or osp.splitext(
            args.out)[0] + '_classes.txt'
        with open(classes_file, 'w', encoding='utf-8') as f:
            f.write('\n'.join(classes) + '\n')
        print(f'{len(classes)} classes -> {classes_file}')
    print(f'{len(entries)} files -> {args.out}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
