# Copyright (c) vicmae_mm contributors. All rights reserved.
"""Demo entry point (interim): a real ViC-MAE pretraining on generated images.

The full demo (moving-digit videos + images, three downstream libraries,
summary table) replaces this once its pieces land.
"""
import argparse
import os.path as osp
import sys

from mmengine.config import Config
from mmengine.runner import Runner

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
sys.path.insert(0, osp.join(REPO, 'tests'))

import vicmae_mm  # noqa: E402,F401
from helpers import TINY_PRETRAIN_CFG, write_images  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument('--work-dir', default='work_dirs/demo')
    parser.add_argument('--iters', type=int, default=20)
    args = parser.parse_args()
    data = osp.join(args.work_dir, 'data', 'images')
    write_images(data, num=64)
    cfg = Config.fromfile(TINY_PRETRAIN_CFG)
    cfg.work_dir = args.work_dir
    cfg.train_dataloader.dataset.data_root = data
    cfg.train_cfg.max_iters = args.iters
    cfg.default_hooks.checkpoint.interval = args.iters
    Runner.from_cfg(cfg).train()


if __name__ == '__main__':
    main()
