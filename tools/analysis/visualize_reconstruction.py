# Copyright (c) vicmae_mm contributors. All rights reserved.
"""Draw original / masked / reconstruction grids from a pretrained model.

    python tools/analysis/visualize_reconstruction.py CONFIG CHECKPOINT \
        img.png clip.mp4 ... --out work_dirs/recon.png

Images give one view each; videos give a frame pair (first frame and the
frame ``--frame-gap`` seconds later). The grid is the one
``ReconstructionVisHook`` writes during training. The checkpoint is loaded
through mmengine's loader (weights-only by default in vicmae_mm).
"""
import argparse
import os
import os.path as osp
import sys

import cv2
from mmengine.config import Config, DictAction
from mmengine.registry import init_default_scope
from mmengine.runner import load_checkpoint

import vicmae_mm  # noqa: F401  (registers components, safe loading)
from vicmae_mm.visualization import (model_input_size, read_views,
                                     reconstruction_grid)
from vicmae_mm.utils import trust_checkpoint


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('config', help='pretraining config')
    parser.add_argument('checkpoint', help='pretraining checkpoint')
    parser.add_argument('inputs', nargs='+', help='image and/or video files')
    parser.add_argument(
        '--out', default='reconstruction.png', help='output PNG path')
    parser.add_argument(
        '--frame-gap',
        type=float,
        default=1.0,
        help='seconds between the two frames of a video pair')
    parser.add_argument(
        '--mask-seed', type=int, default=0, help='seed of the masks shown')
    parser.add_argument(
        '--decoder-only',
        action='store_true',
        help='show the decoder output on visible patches too (default: '
        'original pixels there, as in the MAE figures)')
    parser.add_argument(
        '--device', default='cpu', help='device, e.g. cpu or cuda:0')
    parser.add_argument(
        '--trust-checkpoint',
        action='store_true',
        help='allow full unpickling of CHECKPOINT (only for files you '
        'trust; default loading is weights-only)')
    parser.add_argument(
        '--cfg-options',
        nargs='+',
        action=DictAction,
        help='override settings in the config, key=value')
    return parser.parse_args(argv)


def main(argv=None) -> None:
    args = parse_args(argv)
    cfg = Config.fromfile(args.config)
    if args.cfg_options:
        cfg.merge_from_dict(args.cfg_options)
    if not osp.isfile(args.checkpoint):
        sys.exit(f'checkpoint not found: {args.checkpoint}')
    init_default_scope(cfg.get('default_scope', 'mmpretrain'))
    from mmpretrain.registry import MODELS
    model = MODELS.build(cfg.model)
    if args.trust_checkpoint:
        trust_checkpoint(args.checkpoint)
    # strict: a checkpoint of another architecture must not half-load
    load_checkpoint(model, args.checkpoint, map_location='cpu', strict=True)
    model.to(args.device).eval()
    size = model_input_size(model)
    views = [read_views(path, size, args.frame_gap) for path in args.inputs]
    grid = reconstruction_grid(
        model,
        views,
        mask_seed=args.mask_seed,
        paste_visible=not args.decoder_only)
    os.makedirs(osp.dirname(osp.abspath(args.out)), exist_ok=True)
    if not cv2.imwrite(args.out, grid[..., ::-1]):
        sys.exit(f'could not write {args.out}')
    print(f'wrote {args.out} ({len(views)} inputs, {grid.shape[1]}x'
          f'{grid.shape[0]} px)')


if __name__ == '__main__':
    main()
