# Copyright (c) vicmae_mm contributors. All rights reserved.
"""Writers of real test media for tests/test_datasets.

Videos are real mp4 files (OpenCV, 'mp4v') whose frame ``i`` carries ``i``
in its pixels as a 16-bit code of black/white 16x16 blocks (robust to the
codec), plus a pure red strip to check channel order.
"""
import os
import os.path as osp
from typing import Dict, List

import numpy as np

FRAME_W, FRAME_H = 96, 64
BLOCK = 16
RED_BGR = (0, 0, 255)


def coded_frame(index: int) -> np.ndarray:
    """BGR frame whose left 64x64 area encodes ``index`` (16 bits)."""
    img = np.zeros((FRAME_H, FRAME_W, 3), np.uint8)
    for bit in range(16):
        row, col = divmod(bit, 4)
        if (index >> bit) & 1:
            img[row * BLOCK:(row + 1) * BLOCK,
                col * BLOCK:(col + 1) * BLOCK] = 255
    img[:, 64:] = RED_BGR
    return img


def read_code(frame: np.ndarray) -> int:
    """Inverse of :func:`coded_frame` (block centres, any channel order)."""
    grey = np.asarray(frame)[:, :64].astype(np.float32).mean(-1)
    value = 0
    for bit in range(16):
        row, col = divmod(bit, 4)
        centre = grey[row * BLOCK + 4:(row + 1) * BLOCK - 4,
                      col * BLOCK + 4:(col + 1) * BLOCK - 4]
        if centre.mean() > 128:
            value |= 1 << bit
    return value


def write_coded_video(path: str, num_frames: int, fps: float) -> str:
    """Write an mp4 of ``num_frames`` coded frames at ``fps``."""
    import cv2
    os.makedirs(osp.dirname(path), exist_ok=True)
    writer = cv2.VideoWriter(path, cv2.VideoWriter_fourcc(*'mp4v'), fps,
                             (FRAME_W, FRAME_H))
    assert writer.isOpened(), path
    for i in range(num_frames):
        writer.write(coded_frame(i))
    writer.release()
    return path


def write_bad_videos(folder: str) -> Dict[str, str]:
    """Unreadable and unusable videos; returns name -> path.

    ``zero_bytes``, ``truncated`` (first half of a valid file),
    ``corrupt_header`` (first 64 bytes overwritten), ``not_a_video`` (text),
    ``one_frame`` (valid, 1 frame) and ``missing`` (no file).
    """
    os.makedirs(folder, exist_ok=True)
    good = write_coded_video(osp.join(folder, '_source.mp4'), 50, 25)
    with open(good, 'rb') as f:
        data = f.read()
    os.remove(good)
    paths = {
        name: osp.join(folder, f'{name}.mp4')
        for name in ('zero_bytes', 'truncated', 'corrupt_header',
                     'not_a_video', 'one_frame', 'missing')
    }
    open(paths['zero_bytes'], 'wb').close()
    with open(paths['truncated'], 'wb') as f:
        f.write(data[:len(data) // 2])
    corrupt = bytearray(data)
    corrupt[:64] = np.random.default_rng(0).integers(
        0, 256, 64, dtype=np.uint8).tobytes()
    with open(paths['corrupt_header'], 'wb') as f:
        f.write(bytes(corrupt))
    with open(paths['not_a_video'], 'w') as f:
        f.write('this is not a video\n')
    write_coded_video(paths['one_frame'], 1, 25)
    return paths


def write_odd_images(folder: str) -> Dict[str, str]:
    """PNG images in awkward formats; returns name -> path.

    ``gray`` (8-bit, 1 channel), ``rgba`` (alpha channel), ``gray16``
    (16-bit, 1 channel), ``bgr16`` (16-bit, 3 channels), ``small`` (12x10,
    smaller than any crop).
    """
    import cv2
    os.makedirs(folder, exist_ok=True)
    yy, xx = np.mgrid[0:40, 0:48]
    gray = ((xx * 5 + yy * 2) % 256).astype(np.uint8)
    rgba = np.dstack(
        [gray, 255 - gray,
         np.full_like(gray, 80),
         np.full_like(gray, 128)])
    gray16 = np.full((40, 48), 40000, np.uint16)
    bgr16 = np.dstack(
        [np.full((40, 48), v, np.uint16) for v in (1000, 30000, 65535)])
    small = np.dstack([gray[:10, :12]] * 3)
    images = dict(
        gray=gray, rgba=rgba, gray16=gray16, bgr16=bgr16, small=small)
    paths = {}
    for name, img in images.items():
        paths[name] = osp.join(folder, f'{name}.png')
        assert cv2.imwrite(paths[name], img), name
    return paths


def write_list(path: str, lines: List[str]) -> str:
    """Write an annotation list."""
    os.makedirs(osp.dirname(path), exist_ok=True)
    with open(path, 'w') as f:
        f.write('\n'.join(lines) + '\n')
    return path
