# Copyright (c) vicmae_mm contributors. All rights reserved.
"""Frame-pair loading speed vs mmaction2 clip loading, on the same files.

    python tools/analysis/benchmark_data.py                 # synthetic videos
    python tools/analysis/benchmark_data.py \
        --videos data/kinetics400/videos_train

Measures, in one process with one thread (= one dataloader worker), the
samples per second of:

* ``pair``: OpenVideo + SampleFramePair (1 s gap) + DecodeFramePair
  (what ViC-MAE's video pipeline decodes);
* ``pair+views``: the same followed by the released two-view augmentations
  at 224 px and PackInputs (the whole per-sample video cost);
* ``mmaction clip_len=2``: DecordInit + SampleFrames(clip_len=2,
  frame_interval=fps, i.e. two frames 1 s apart) + DecordDecode;
* ``mmaction clip_len=16``: DecordInit + SampleFrames(clip_len=16,
  frame_interval=4) + DecordDecode (a usual video-model clip).

The pipelines run interleaved over the same videos (round-robin over
``--repeats`` rounds, each pipeline seeded identically) and the median rate
per round is reported. Without ``--videos``, ``--num-videos`` synthetic
videos (moving shapes on noise, 30 fps, ``--fourcc``) are written to a
temporary folder first. Prints a table; nothing is asserted.
"""
import argparse
import os
import os.path as osp
import statistics
import sys
import tempfile
import time
from typing import Callable, Dict, List

import numpy as np


def write_synthetic_videos(folder: str, num: int, seconds: float, fps: int,
                           width: int, height: int, fourcc: str) -> List[str]:
    """Videos with moving rectangles on a noisy background."""
    import cv2
    rng = np.random.default_rng(0)
    paths = []
    ext = '.webm' if fourcc.upper().startswith('VP') else '.mp4'
    for v in range(num):
        path = osp.join(folder, f'synthetic_{v:03d}{ext}')
        writer = cv2.VideoWriter(path, cv2.VideoWriter_fourcc(*fourcc), fps,
                                 (width, height))
        if not writer.isOpened():
            raise RuntimeError(f'OpenCV cannot write fourcc {fourcc!r}')
        base = rng.integers(0, 255, (height, width, 3), dtype=np.uint8)
        for t in range(int(seconds * fps)):
            frame = np.roll(base, shift=3 * t, axis=1)
            x = (7 * t + 40 * v) % max(width - 60, 1)
            frame[40:100, x:x + 60] = (255 - 20 * v % 255, 80, 40 * t % 255)
            writer.write(frame)
        writer.release()
        paths.append(path)
    return paths


def build_pipelines(fps_hint: float) -> Dict[str, Callable]:
    from mmaction.registry import TRANSFORMS as ACTION
    from mmcv.transforms import Compose
    from mmengine.config import Config
    from mmengine.registry import DefaultScope, init_default_scope
    from mmpretrain.registry import TRANSFORMS as PRETRAIN

    import vicmae_mm  # noqa: F401
    repo = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
    init_default_scope('mmpretrain')
    views = Config.fromfile(
        osp.join(repo, 'configs', '_base_', 'datasets',
                 'pair_view_pipelines.py'))
    pair = [
        dict(type='OpenVideo'),
        dict(type='SampleFramePair', gap_range=(1.0, 1.0)),
        dict(type='DecodeFramePair'),
    ]
    pipelines = {
        'pair (vicmae_mm)':
        Compose([PRETRAIN.build(t) for t in pair]),
        'pair+views 224 (vicmae_mm)':
        Compose([PRETRAIN.build(t) for t in views.frame_pair_pipeline]),
    }
    with DefaultScope.overwrite_default_scope('mmaction'):
        for clip_len, interval in ((2, int(round(fps_hint))), (16, 4)):
            pipelines[f'mmaction clip_len={clip_len}'] = Compose([
                ACTION.build(dict(type='DecordInit')),
                ACTION.build(
                    dict(
                        type='SampleFrames',
                        clip_len=clip_len,
                        frame_interval=interval,
                        num_clips=1)),
                ACTION.build(dict(type='DecordDecode')),
            ])
    return pipelines


def frames_of(out: dict) -> int:
    if 'imgs' in out:
        return len(out['imgs'])
    img = out.get('img', out.get('inputs'))
    return len(img) if isinstance(img, list) else 1


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--videos', help='folder of videos to read')
    parser.add_argument('--num-videos', type=int, default=8)
    parser.add_argument('--seconds', type=float, default=10.0)
    parser.add_argument('--fps', type=int, default=30)
    parser.add_argument('--width', type=int, default=320)
    parser.add_argument('--height', type=int, default=240)
    parser.add_argument(
        '--fourcc',
        default='mp4v',
        help="codec of the synthetic videos: 'mp4v' (MPEG-4 part 2, .mp4) "
        "or 'VP90' (VP9, .webm, as Something-Something v2)")
    parser.add_argument(
        '--samples', type=int, default=40, help='samples per round')
    parser.add_argument('--repeats', type=int, default=5, help='rounds')
    args = parser.parse_args(argv)

    import torch
    torch.set_num_threads(1)  # one dataloader worker
    os.environ.setdefault('OMP_NUM_THREADS', '1')
    tmp = None
    if args.videos:
        from vicmae_mm.datasets import scan_folder
        from vicmae_mm.datasets.annotation_lists import VIDEO_EXTENSIONS
        videos = [
            osp.join(args.videos, p)
            for p in scan_folder(args.videos, VIDEO_EXTENSIONS)
        ]
        source = args.videos
    else:
        tmp = tempfile.TemporaryDirectory()
        videos = write_synthetic_videos(tmp.name, args.num_videos,
                                        args.seconds, args.fps, args.width,
                                        args.height, args.fourcc)
        source = (
            f'{len(videos)} synthetic {args.width}x{args.height} '
            f'{args.fourcc} videos, {args.seconds:g} s at {args.fps} fps')
    if not videos:
        print('no videos found', file=sys.stderr)
        return 1
    import decord
    fps_hint = decord.VideoReader(videos[0]).get_avg_fps()
    pipelines = build_pipelines(fps_hint)

    rates: Dict[str, List[float]] = {name: [] for name in pipelines}
    frames: Dict[str, int] = {}
    for rnd in range(args.repeats + 1):  # round 0 warms up
        for name, pipeline in pipelines.items():
            np.random.seed(rnd)
            start = time.perf_counter()
            for s in range(args.samples):
                out = pipeline(
                    dict(
                        filename=videos[s % len(videos)],
                        start_index=0,
                        modality='RGB'))
                frames[name] = frames_of(out)
            elapsed = time.perf_counter() - start
            if rnd:
                rates[name].append(args.samples / elapsed)

    print(f'\nSource: {source}')
    print(f'One worker (1 thread), {args.samples} samples x '
          f'{args.repeats} interleaved rounds, median rate; load: '
          f'{os.getloadavg()[0]:.2f} (1-min load average, '
          f'{os.cpu_count()} CPUs)\n')
    ref = statistics.median(rates['pair (vicmae_mm)'])
    header = (f'{"pipeline":<30} {"frames":>6} {"samples/s":>10} '
              f'{"ms/sample":>10} {"vs pair":>8}')
    print(header)
    print('-' * len(header))
    for name, values in rates.items():
        rate = statistics.median(values)
        print(f'{name:<30} {frames[name]:>6} {rate:>10.1f} '
              f'{1000 / rate:>10.2f} {rate / ref:>7.2f}x')
    if tmp is not None:
        tmp.cleanup()
    return 0


if __name__ == '__main__':
    sys.exit(main())
