# Copyright (c) vicmae_mm contributors. All rights reserved.
"""Scan videos: report unreadable ones, frame counts, fps and durations.

    python tools/data/scan_videos.py data/kinetics400/videos_train \
        --ann-file data/kinetics400/kinetics400_train_list_videos.txt \
        --out k400_scan.csv --good-list k400_train_readable.txt

Each video is opened with decord as the training pipeline does
(:class:`vicmae_mm.datasets.OpenVideo`); with ``--decode`` its first and
last frames are decoded too (slower, catches more damage). Writes a CSV
(path, status, frames, fps, duration_s, width, height, error), prints a
summary, and optionally a list of the readable entries, so a run can start
on a clean list. Exit code 1 when some video is unreadable.
"""
import argparse
import csv
import math
import os.path as osp
import sys
from typing import Dict, List, Tuple

from mmengine.utils import track_parallel_progress, track_progress

from vicmae_mm.datasets.annotation_lists import (VIDEO_EXTENSIONS,
                                                 parse_annotation_list,
                                                 scan_folder)

# this folder's own modules, also when the tool is loaded by path
sys.path.insert(0, osp.dirname(osp.abspath(__file__)))
from annotation_files import write_annotation_list  # noqa: E402

FIELDS = ('path', 'status', 'frames', 'fps', 'duration_s', 'width', 'height',
          'error')


def probe_video(task: Tuple[str, bool]) -> Dict:
    """Open one video (and decode its ends if asked); never raises."""
    path, decode = task
    from vicmae_mm.datasets import OpenVideo, VideoReadError
    row = dict.fromkeys(FIELDS, '')
    row['path'] = path
    try:
        results = OpenVideo()(dict(filename=path))
        reader = results['video_reader']
        frames, fps = results['total_frames'], results['avg_fps']
        # decord exposes no frame size without decoding: frame 0 (a key
        # frame) is cheap
        height, width = reader.get_batch([0]).shape[1:3]
        if decode and frames > 1:
            reader.get_batch([frames - 1])
        row.update(
            status='ok',
            frames=frames,
            fps=round(fps, 4) if math.isfinite(fps) else 'nan',
            duration_s=round(frames /
                             fps, 3) if math.isfinite(fps) and fps > 0 else '',
            width=width,
            height=height)
    except VideoReadError as err:
        row.update(status='unreadable', error=str(err))
    except Exception as err:  # decode failures after a successful open
        row.update(status='unreadable', error=f'{type(err).__name__}: {err}')
    return row


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('root', help='video folder (the data prefix)')
    parser.add_argument(
        '--ann-file',
        help='scan the videos of this "path [label]" list instead of every '
        'video file under ROOT')
    parser.add_argument('--out', help='CSV report to write')
    parser.add_argument(
        '--good-list',
        help='write the readable entries (with their labels) to this list')
    parser.add_argument(
        '--decode',
        action='store_true',
        help='also decode the first and last frame of each video')
    parser.add_argument(
        '--nproc', type=int, default=1, help='parallel processes')
    return parser.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    if args.ann_file:
        entries = parse_annotation_list(args.ann_file)
    else:
        entries = [(p, -1) for p in scan_folder(args.root, VIDEO_EXTENSIONS)]
    if not entries:
        print(f'no videos found under {args.root}', file=sys.stderr)
        return 1
    tasks = [(osp.join(args.root, rel), args.decode) for rel, _ in entries]
    if args.nproc > 1:
        rows: List[Dict] = track_parallel_progress(
            probe_video, tasks, nproc=args.nproc)
    else:
        rows = track_progress(probe_video, tasks)
    bad = [r for r in rows if r['status'] != 'ok']
    good = [r for r in rows if r['status'] == 'ok']
    if args.out:
        with open(args.out, 'w', newline='', encoding='utf-8') as f:
            writer = csv.DictWriter(f, fieldnames=FIELDS)
            writer.writeheader()
            writer.writerows(rows)
    if args.good_list:
        write_annotation_list(
            args.good_list,
            [e for e, r in zip(entries, rows) if r['status'] == 'ok'])
    print(f'\n{len(rows)} videos: {len(good)} readable, {len(bad)} '
          'unreadable')
    if good:
        frames = sorted(int(r['frames']) for r in good)
        durations = sorted(
            float(r['duration_s']) for r in good if r['duration_s'] != '')
        fps = sorted({float(r['fps']) for r in good if r['fps'] != 'nan'})
        print(f'frames: min {frames[0]}, median {frames[len(frames) // 2]}, '
              f'max {frames[-1]}')
        if durations:
            print(f'duration (s): min {durations[0]:.2f}, median '
                  f'{durations[len(durations) // 2]:.2f}, max '
                  f'{durations[-1]:.2f}, total {sum(durations) / 3600:.2f} h')
        print(f'fps values: {", ".join(f"{v:g}" for v in fps[:10])}'
              f'{" ..." if len(fps) > 10 else ""}')
    for r in bad:
        print(f'UNREADABLE {r["path"]}: {r["error"]}')
    return 1 if bad else 0


if __name__ == '__main__':
    sys.exit(main())
