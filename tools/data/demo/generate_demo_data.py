# Copyright (c) vicmae_mm contributors. All rights reserved.
"""Generate the embedded demo data from scikit-learn's bundled digits.

    python tools/data/demo/generate_demo_data.py --out data/demo --seed 0

Nothing is downloaded: the digits (1797 grey 8x8 images, UCI ML handwritten
digits) ship inside the scikit-learn wheel. Digits are split per class into
disjoint train/val pools first; every train output uses only train digits
and every val output only val digits. By default digits get random colours
on random gradient canvases with pixel noise; ``--plain`` draws near-white
digits on a uniform dark canvas instead. The same seed gives byte-identical
lists, annotations and images, and identical decoded video frames.

Layout under ``--out`` (paths in lists are relative to their folder)::

    meta.json                       sizes, fps, frame count, classes, counts
    sources.json                    digit indices of each split and per file
    images/{train,val}/<digit>/*.png    one digit per canvas, label = folder
    images/{train,val}.txt              "train/3/3_0001.png 3" (mmpretrain)
    videos/{train,val}/*.mp4            direction clips (labelled)
    videos/{train,val}_list.txt         "train/00000.mp4 1" (mmaction2)
    videos/classes.txt                  left, right, up, down (label order)
    videos/pretrain/*.mp4               bouncing clips (train digits)
    videos/pretrain_list.txt            unlabelled: pretrain/ + train/ clips
    coco/{train,val}/*.png
    coco/annotations/instances_{train,val}.json
"""
import argparse
import json
import os
import os.path as osp
import shutil
import sys
import time
from dataclasses import asdict, dataclass
from typing import Dict, List, Tuple

import cv2
import numpy as np

sys.path.insert(0, osp.dirname(osp.abspath(__file__)))

# yapf: disable
from coco_digits import CATEGORIES, render_detection_image  # noqa: E402
from digit_canvas import (NUM_CLASSES, DigitPool, Palette,  # noqa: E402
                          digit_alpha, load_digit_splits, paste, to_uint8)
from moving_digits import (DIRECTIONS, render_bouncing_clip,  # noqa: E402
                           render_direction_clip, write_mp4)
# yapf: enable

FORMAT_VERSION = 1
# what the generator writes; only these are removed by --overwrite
_OUTPUTS = ('images', 'videos', 'coco', 'meta.json', 'sources.json')
# written first, so that an interrupted run can be overwritten too
_MARKER = '.vicmae_demo_data'
SPLITS = ('train', 'val')


@dataclass
class DemoDataSpec:
    """Sizes of the demo data (the CLI flags, with their defaults)."""
    seed: int = 0
    val_fraction: float = 0.25
    image_size: int = 32
    image_digit_size: Tuple[int, int] = (18, 26)
    images_per_class: Tuple[int, int] = (40, 15)
    video_size: int = 64
    video_digit_size: Tuple[int, int] = (16, 24)
    fps: int = 10
    num_frames: int = 30
    direction_videos: Tuple[int, int] = (120, 40)
    pretrain_videos: int = 120
    video_speed: Tuple[float, float] = (1.5, 3.5)
    coco_size: int = 64
    coco_digit_size: Tuple[int, int] = (16, 26)
    coco_digits_per_image: Tuple[int, int] = (1, 3)
    coco_images: Tuple[int, int] = (200, 50)
    noise_std: float = 3.0
    plain: bool = False

    @property
    def palette(self) -> Palette:
        """Colouring of digits and canvases (see :class:`Palette`)."""
        return Palette(plain=self.plain)

    def validate(self) -> None:
        """Reject values that cannot produce a valid data set."""
        lo, hi = self.coco_digits_per_image
        checks = [
            (self.image_digit_size[1] <= self.image_size,
             f'--image-size must hold the largest image digit '
             f'({self.image_digit_size[1]} px), got {self.image_size}'),
            (self.video_digit_size[1] <= self.video_size,
             f'--video-size must hold the largest video digit '
             f'({self.video_digit_size[1]} px), got {self.video_size}'),
            (self.coco_digit_size[1] <= self.coco_size,
             f'--coco-size must hold the largest coco digit '
             f'({self.coco_digit_size[1]} px), got {self.coco_size}'),
            (self.fps > 0, f'--fps must be positive, got {self.fps}'),
            (self.num_frames
             >= 2, f'--num-frames must be at least 2, got {self.num_frames}'),
            (min(self.images_per_class)
             >= 1, '--images-per-class needs at least 1 per split, got '
             f'{self.images_per_class}'),
            (min(self.direction_videos) >= len(DIRECTIONS),
             '--direction-videos needs at least one per direction per '
             f'split, got {self.direction_videos}'),
            (self.pretrain_videos >= 0,
             f'--pretrain-videos must be >= 0, got {self.pretrain_videos}'),
            (min(self.coco_images)
             >= 1, f'--coco-images needs at least 1 per split, got '
             f'{self.coco_images}'),
            (1 <= lo <= hi,
             f'coco digits per image: need 1 <= min <= max, got {lo}, {hi}'),
            (self.image_size % 2 == 0 and self.video_size % 2 == 0,
             'image and video sizes must be even (mp4v needs even sizes), '
             f'got {self.image_size} and {self.video_size}'),
        ]
        for ok, message in checks:
            if not ok:
                raise ValueError(message)


def _write_lines(path: str, lines: List[str]) -> None:
    with open(path, 'w', encoding='utf-8', newline='\n') as f:
        f.write(''.join(line + '\n' for line in lines))


def _write_json(path: str, obj) -> None:
    with open(path, 'w', encoding='utf-8', newline='\n') as f:
        json.dump(obj, f, indent=1, sort_keys=True)
        f.write('\n')


def make_still_images(out: str, spec: DemoDataSpec,
                      pools: Dict[str, DigitPool], rng: np.random.Generator,
                      sources: Dict[str, List[int]]) -> Dict[str, int]:
    """One digit per canvas, class-per-folder layout plus list files."""
    counts = {}
    for split, per_class in zip(SPLITS, spec.images_per_class):
        lines = []
        for label in range(NUM_CLASSES):
            folder = osp.join(out, 'images', split, str(label))
            os.makedirs(folder, exist_ok=True)
            for k in range(per_class):
                idx, _ = pools[split].draw(rng, label)
                size = int(
                    rng.integers(spec.image_digit_size[0],
                                 spec.image_digit_size[1] + 1))
                canvas = spec.palette.background(rng, spec.image_size,
                                                 spec.image_size,
                                                 spec.noise_std)
                top, left = rng.integers(0, spec.image_size - size + 1, 2)
                paste(canvas, digit_alpha(pools[split].images[idx], size),
                      spec.palette.digit_colour(rng), int(top), int(left))
                rel = f'{split}/{label}/{label}_{k:04d}.png'
                cv2.imwrite(osp.join(out, 'images', rel), to_uint8(canvas))
                lines.append(f'{rel} {label}')
                sources[f'images/{rel}'] = [idx]
        _write_lines(osp.join(out, 'images', f'{split}.txt'), lines)
        counts[split] = len(lines)
    return counts


def make_videos(out: str, spec: DemoDataSpec, pools: Dict[str, DigitPool],
                rng: np.random.Generator,
                sources: Dict[str, List[int]]) -> Dict[str, int]:
    """Direction clips (train/val, labelled) and bouncing pretrain clips."""
    root = osp.join(out, 'videos')
    common = dict(
        num_frames=spec.num_frames,
        canvas=spec.video_size,
        size_range=spec.video_digit_size,
        speed_range=spec.video_speed)
    counts = {}
    pretrain_lines = []
    for split, num in zip(SPLITS, spec.direction_videos):
        os.makedirs(osp.join(root, split), exist_ok=True)
        lines = []
        for i in range(num):
            label = i % len(DIRECTIONS)
            frames, used = render_direction_clip(
                rng,
                pools[split],
                spec.palette,
                DIRECTIONS[label],
                num_digits=int(rng.integers(1, 3)),
                **common)
            rel = f'{split}/{i:05d}.mp4'
            write_mp4(osp.join(root, rel), frames, spec.fps)
            lines.append(f'{rel} {label}')
            sources[f'videos/{rel}'] = used
            if split == 'train':
                pretrain_lines.append(rel)
        _write_lines(osp.join(root, f'{split}_list.txt'), lines)
        counts[split] = num
    os.makedirs(osp.join(root, 'pretrain'), exist_ok=True)
    bouncing = []
    for i in range(spec.pretrain_videos):
        frames, used = render_bouncing_clip(
            rng,
            pools['train'],
            spec.palette,
            num_digits=int(rng.integers(1, 3)),
            **common)
        rel = f'pretrain/{i:05d}.mp4'
        write_mp4(osp.join(root, rel), frames, spec.fps)
        bouncing.append(rel)
        sources[f'videos/{rel}'] = used
    _write_lines(
        osp.join(root, 'pretrain_list.txt'), bouncing + pretrain_lines)
    _write_lines(osp.join(root, 'classes.txt'), list(DIRECTIONS))
    counts['pretrain'] = len(bouncing) + len(pretrain_lines)
    return counts


def make_coco(out: str, spec: DemoDataSpec, pools: Dict[str, DigitPool],
              rng: np.random.Generator,
              sources: Dict[str, List[int]]) -> Dict[str, int]:
    """COCO detection + instance segmentation sets (train/val)."""
    os.makedirs(osp.join(out, 'coco', 'annotations'), exist_ok=True)
    counts = {}
    for split, num in zip(SPLITS, spec.coco_images):
        os.makedirs(osp.join(out, 'coco', split), exist_ok=True)
        images, annotations = [], []
        for i in range(num):
            image, instances = render_detection_image(
                rng, pools[split], spec.palette, spec.coco_size,
                spec.coco_digits_per_image,
                spec.coco_digit_size, spec.noise_std)
            file_name = f'{i:05d}.png'
            cv2.imwrite(osp.join(out, 'coco', split, file_name), image)
            images.append(
                dict(
                    id=i + 1,
                    file_name=file_name,
                    height=spec.coco_size,
                    width=spec.coco_size))
            for inst in instances:
                annotations.append(
                    dict(id=len(annotations) + 1, image_id=i + 1, **inst))
            sources[f'coco/{split}/{file_name}'] = [
                inst['digit_index'] for inst in instances
            ]
        _write_json(
            osp.join(out, 'coco', 'annotations', f'instances_{split}.json'),
            dict(
                info=dict(
                    description='vicmae_mm demo: digits on canvases '
                    f'({split}), from sklearn load_digits',
                    version=str(FORMAT_VERSION)),
                licenses=[],
                images=images,
                annotations=annotations,
                categories=CATEGORIES))
        counts[f'{split}_images'] = num
        counts[f'{split}_instances'] = len(annotations)
    return counts


def _prepare_out(out: str, overwrite: bool) -> None:
    if osp.isdir(out) and os.listdir(out):
        if not osp.isfile(osp.join(out, _MARKER)):
            raise FileExistsError(
                f'{out} is not empty and was not written by this generator '
                f'(no {_MARKER} file); refusing to write into it')
        if not overwrite:
            raise FileExistsError(
                f'{out} already holds demo data; pass --overwrite to '
                'regenerate it')
        for name in _OUTPUTS:
            path = osp.join(out, name)
            if osp.isdir(path):
                shutil.rmtree(path)
            elif osp.exists(path):
                os.remove(path)
    os.makedirs(out, exist_ok=True)
    _write_lines(osp.join(out, _MARKER), ['vicmae_mm demo data'])


def generate(out: str, spec: DemoDataSpec, overwrite: bool = False) -> dict:
    """Write the whole demo data set; returns the content of meta.json."""
    import sklearn
    spec.validate()
    _prepare_out(out, overwrite)
    # one independent stream per product: changing one product's size
    # leaves the others unchanged
    streams = [
        np.random.default_rng(s)
        for s in np.random.SeedSequence(spec.seed).spawn(4)
    ]
    pools = load_digit_splits(spec.val_fraction, streams[0])
    sources: Dict[str, List[int]] = {}
    counts = dict(
        images=make_still_images(out, spec, pools, streams[1], sources),
        videos=make_videos(out, spec, pools, streams[2], sources),
        coco=make_coco(out, spec, pools, streams[3], sources))
    meta = dict(
        format_version=FORMAT_VERSION,
        source='sklearn.datasets.load_digits (UCI ML handwritten digits, '
        f'bundled with scikit-learn {sklearn.__version__})',
        spec=asdict(spec),
        counts=counts,
        digits_per_split={
            k: int(len(v.indices))
            for k, v in pools.items()
        },
        image_classes=[str(c) for c in range(NUM_CLASSES)],
        video_classes=list(DIRECTIONS),
        video=dict(
            fps=spec.fps,
            num_frames=spec.num_frames,
            height=spec.video_size,
            width=spec.video_size,
            codec='mp4v'),
        coco_categories=[c['name'] for c in CATEGORIES])
    _write_json(osp.join(out, 'meta.json'), meta)
    _write_json(
        osp.join(out, 'sources.json'),
        dict(
            split_digit_indices={
                k: v.indices.tolist()
                for k, v in pools.items()
            },
            files=sources))
    return meta


def _pair(kind):

    def parse(text: str):
        parts = text.split(',')
        if len(parts) != 2:
            raise argparse.ArgumentTypeError(
                f'expected two comma-separated values, got {text!r}')
        return tuple(kind(p) for p in parts)

    return parse


def parse_args(argv=None) -> argparse.Namespace:
    d = DemoDataSpec()
    p = argparse.ArgumentParser(
        description='Generate the vicmae_mm demo data from sklearn digits.')
    p.add_argument('--out', default='data/demo', help='output folder')
    p.add_argument('--seed', type=int, default=d.seed)
    p.add_argument(
        '--overwrite',
        action='store_true',
        help='replace demo data already in --out')
    p.add_argument('--val-fraction', type=float, default=d.val_fraction)
    p.add_argument(
        '--images-per-class',
        type=_pair(int),
        default=d.images_per_class,
        metavar='TRAIN,VAL')
    p.add_argument(
        '--direction-videos',
        type=_pair(int),
        default=d.direction_videos,
        metavar='TRAIN,VAL')
    p.add_argument('--pretrain-videos', type=int, default=d.pretrain_videos)
    p.add_argument(
        '--coco-images',
        type=_pair(int),
        default=d.coco_images,
        metavar='TRAIN,VAL')
    p.add_argument('--image-size', type=int, default=d.image_size)
    p.add_argument('--video-size', type=int, default=d.video_size)
    p.add_argument('--coco-size', type=int, default=d.coco_size)
    p.add_argument('--fps', type=int, default=d.fps)
    p.add_argument('--num-frames', type=int, default=d.num_frames)
    p.add_argument(
        '--plain',
        action='store_true',
        help='near-white digits on a uniform dark canvas (default: random '
        'digit colours on random gradient canvases with pixel noise)')
    return p.parse_args(argv)


def main(argv=None) -> None:
    args = parse_args(argv)
    spec = DemoDataSpec(
        seed=args.seed,
        val_fraction=args.val_fraction,
        images_per_class=args.images_per_class,
        direction_videos=args.direction_videos,
        pretrain_videos=args.pretrain_videos,
        coco_images=args.coco_images,
        image_size=args.image_size,
        video_size=args.video_size,
        coco_size=args.coco_size,
        fps=args.fps,
        num_frames=args.num_frames,
        plain=args.plain)
    start = time.perf_counter()
    try:
        meta = generate(args.out, spec, overwrite=args.overwrite)
    except (ValueError, FileExistsError, OSError) as err:
        sys.exit(f'generate_demo_data: {err}')
    elapsed = time.perf_counter() - start
    c = meta['counts']
    print(f'demo data in {args.out} ({elapsed:.1f} s): '
          f'images {c["images"]["train"]}/{c["images"]["val"]} '
          f'(train/val), direction videos {c["videos"]["train"]}/'
          f'{c["videos"]["val"]}, pretrain videos {c["videos"]["pretrain"]}, '
          f'coco images {c["coco"]["train_images"]}/'
          f'{c["coco"]["val_images"]} with {c["coco"]["train_instances"]}/'
          f'{c["coco"]["val_instances"]} instances')


if __name__ == '__main__':
    main()
