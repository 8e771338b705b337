# Copyright (c) vicmae_mm contributors. All rights reserved.
"""Small shared helpers for the test suite (data writers, paths)."""
import os
import os.path as osp
from typing import List

import numpy as np

REPO_ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
TINY_PRETRAIN_CFG = osp.join(REPO_ROOT, 'tests', 'configs', 'pretrain_tiny.py')
# Encoder size used by tests/configs/pretrain_tiny.py
TINY_ARCH = dict(
    embed_dims=32, num_layers=2, num_heads=2, feedforward_channels=64)
TINY_IMG, TINY_PATCH = 32, 8


def write_images(folder: str, num: int, size: int = 40,
                 seed: int = 0) -> List[str]:
    """Write ``num`` structured colour PNGs (rectangles on gradients)."""
    import cv2
    os.makedirs(folder, exist_ok=True)
    rng = np.random.default_rng(seed)
    paths = []
    for i in range(num):
        yy, xx = np.mgrid[0:size, 0:size]
        img = np.stack([xx * 255 // size, yy * 255 // size,
                        np.full_like(xx, rng.integers(0, 255))], -1)
        x0, y0 = rng.integers(0, size // 2, size=2)
        img[y0:y0 + size // 3, x0:x0 + size // 3] = rng.integers(0, 255, 3)
        path = osp.join(folder, f'img_{i:03d}.png')
        cv2.imwrite(path, img.astype(np.uint8))
        paths.append(path)
    return paths
