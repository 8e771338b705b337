# Copyright (c) vicmae_mm contributors. All rights reserved.
"""Write the committed bad-input corpus (run once; the files are committed).

    python tests/test_reliability/bad_inputs/make_corpus.py

The layout is the one ``../configs/pretrain_tiny_mixed_pairs.py`` reads
(``videos.txt`` + ``videos/``, ``images.txt`` + ``images/``), so one tiny
pretraining Runner reads the whole corpus. Every bad file sits next to a
few good ones; ``lists/`` holds malformed annotation lists. The table of
cases and their behaviour is in ``docs/reliability.md``.
"""
import os
import os.path as osp

import cv2
import numpy as np

HERE = osp.dirname(osp.abspath(__file__))
SIZE = 32  # frame / image side: a few KB per file


def _frame(index: int, seed: int) -> np.ndarray:
    """A BGR frame: gradient background and a square that moves."""
    yy, xx = np.mgrid[0:SIZE, 0:SIZE]
    img = np.stack([xx * 8, yy * 8, np.full_like(xx, 40 * seed)], -1)
    x0 = (3 * index + 5 * seed) % (SIZE - 8)
    img[8:16, x0:x0 + 8] = (255, 255, 255)
    return img.astype(np.uint8)


def write_video(path: str, num_frames: int, fps: float, seed: int = 0) -> None:
    """An mp4 (OpenCV 'mp4v') of ``num_frames`` frames at ``fps``."""
    writer = cv2.VideoWriter(path, cv2.VideoWriter_fourcc(*'mp4v'), fps,
                             (SIZE, SIZE))
    assert writer.isOpened(), path
    for i in range(num_frames):
        writer.write(_frame(i, seed))
    writer.release()


def write_videos(folder: str) -> list:
    """Good, short and broken videos; returns the list lines."""
    os.makedirs(folder, exist_ok=True)
    for seed in range(3):
        write_video(osp.join(folder, f'good_{seed}.mp4'), 24, 12, seed)
    # 5 frames at 25 fps (0.2 s) is shorter than the 1 s gap: clamped
    write_video(osp.join(folder, 'shorter_than_gap.mp4'), 5, 25, 3)
    write_video(osp.join(folder, 'one_frame.mp4'), 1, 25, 4)
    open(osp.join(folder, 'zero_bytes.mp4'), 'wb').close()
    with open(osp.join(folder, 'good_0.mp4'), 'rb') as f:
        data = f.read()
    # OpenCV writes the index (moov atom) last: half a file has none
    with open(osp.join(folder, 'truncated.mp4'), 'wb') as f:
        f.write(data[:len(data) // 2])
    corrupt = bytearray(data)
    corrupt[:64] = np.random.default_rng(0).integers(
        0, 256, 64, dtype=np.uint8).tobytes()
    with open(osp.join(folder, 'corrupt_header.mp4'), 'wb') as f:
        f.write(bytes(corrupt))
    names = [
        'good_0', 'zero_bytes', 'good_1', 'truncated', 'corrupt_header',
        'good_2', 'one_frame', 'shorter_than_gap', 'missing'
    ]
    return [f'{name}.mp4 {i % 2}' for i, name in enumerate(names)]


def write_images(folder: str) -> list:
    """Good, awkward and broken PNGs; returns the list lines."""
    os.makedirs(folder, exist_ok=True)
    for seed in range(4):
        cv2.imwrite(osp.join(folder, f'good_{seed}.png'), _frame(seed, seed))
    gray = _frame(1, 1)[..., 0]
    cv2.imwrite(osp.join(folder, 'gray.png'), gray)
    rgba = np.dstack([_frame(2, 2), np.full((SIZE, SIZE), 128, np.uint8)])
    cv2.imwrite(osp.join(folder, 'rgba.png'), rgba)
    cv2.imwrite(osp.join(folder, 'gray16.png'), gray.astype(np.uint16) * 257)
    # 12x10: smaller than the 32-pixel crop
    cv2.imwrite(
        osp.join(folder, 'smaller_than_crop.png'),
        _frame(3, 3)[:10, :12])
    open(osp.join(folder, 'zero_bytes.png'), 'wb').close()
    with open(osp.join(folder, 'corrupt.png'), 'wb') as f:
        f.write(b'\x89PNG\r\n\x1a\n' + b'not really a png' * 4)
    return [
        'good_0.png', 'gray.png', 'zero_bytes.png', 'good_1.png', 'rgba.png',
        'corrupt.png', 'good_2.png', 'gray16.png', 'missing.png', 'good_3.png',
        'smaller_than_crop.png'
    ]


def write_malformed_lists(folder: str) -> None:
    """Annotation lists with one bad line each (line 2, or 1 for bytes)."""
    os.makedirs(folder, exist_ok=True)
    lists = {
        'too_many_fields.txt': 'good_0.mp4 0\ngood_1.mp4 1 extra\n',
        'label_not_an_integer.txt': 'good_0.mp4 0\ngood_1.mp4 one\n',
        'negative_label.txt': 'good_0.mp4 0\ngood_1.mp4 -1\n',
    }
    for name, text in lists.items():
        with open(osp.join(folder, name), 'w') as f:
            f.write(text)
    with open(osp.join(folder, 'not_utf8.txt'), 'wb') as f:
        f.write(b'good_0.mp4 0\n\xff\xfe\x00bad.mp4 1\n')


def main() -> None:
    for name, lines in (('videos', write_videos(osp.join(HERE, 'videos'))),
                        ('images', write_images(osp.join(HERE, 'images')))):
        with open(osp.join(HERE, f'{name}.txt'), 'w') as f:
            f.write('\n'.join(lines) + '\n')
    write_malformed_lists(osp.join(HERE, 'lists'))


if __name__ == '__main__':
    main()
