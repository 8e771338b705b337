# Copyright (c) vicmae_mm contributors. All rights reserved.
""""Moving digits" videos: digits sliding over a canvas, written as mp4.

Two kinds:

* **direction** clips (labelled): every digit of a clip moves in the same
  direction (left, right, up or down) at its own constant speed and wraps
  around the canvas edges. Start positions are uniform, so any single frame
  looks the same for every class; only the motion between frames tells the
  label apart.
* **bouncing** clips (unlabelled, for pretraining): digits move with random
  2-D velocities and bounce off the walls, as in Moving MNIST.
"""
from typing import List, Sequence, Tuple

import cv2
import numpy as np

from digit_canvas import DigitPool, Palette, digit_alpha, paste, to_uint8

DIRECTIONS = ('left', 'right', 'up', 'down')
# unit (dy, dx) step per direction
_STEPS = {'left': (0, -1), 'right': (0, 1), 'up': (-1, 0), 'down': (1, 0)}


def write_mp4(path: str, frames: Sequence[np.ndarray], fps: float) -> None:
    """Encode BGR uint8 frames to mp4 (MPEG-4 part 2, 'mp4v').

    Raises:
        OSError: If OpenCV cannot open a writer for ``path``.
    """
    height, width = frames[0].shape[:2]
    writer = cv2.VideoWriter(path, cv2.VideoWriter_fourcc(*'mp4v'), float(fps),
                             (width, height))
    if not writer.isOpened():
        raise OSError(f'OpenCV cannot write mp4v video {path} (is this '
                      'opencv build missing its FFmpeg backend?)')
    try:
        for frame in frames:
            writer.write(frame)
    finally:
        writer.release()


Clip = Tuple[List[np.ndarray], List[int]]


def _sprites(rng: np.random.Generator, pool: DigitPool, palette: Palette,
             num_digits: int,
             size_range: Tuple[int, int]) -> Tuple[list, List[int]]:
    sprites, sources = [], []
    for _ in range(num_digits):
        idx, _ = pool.draw(rng)
        size = int(rng.integers(size_range[0], size_range[1] + 1))
        alpha = digit_alpha(pool.images[idx], size)
        sprites.append((alpha, palette.digit_colour(rng)))
        sources.append(idx)
    return sprites, sources


def render_direction_clip(rng: np.random.Generator, pool: DigitPool,
                          palette: Palette, direction: str, num_frames: int,
                          canvas: int, num_digits: int,
                          size_range: Tuple[int, int],
                          speed_range: Tuple[float, float]) -> Clip:
    """Frames of digits all moving in ``direction``, wrapping at the edges.

    Returns:
        tuple: BGR uint8 frames and the ``load_digits`` indices drawn.
    """
    background = palette.background(rng, canvas, canvas)
    sprites, sources = _sprites(rng, pool, palette, num_digits, size_range)
    dy, dx = _STEPS[direction]
    tracks = []
    for alpha, colour in sprites:
        # sprite drawn at the origin of a full-size layer; np.roll moves it
        # with wrap-around
        layer = np.zeros((canvas, canvas), np.float32)
        layer[:alpha.shape[0], :alpha.shape[1]] = alpha
        start = rng.uniform(0, canvas, size=2)
        speed = rng.uniform(*speed_range)
        tracks.append((layer, colour, start, speed))
    frames = []
    for t in range(num_frames):
        frame = background.copy()
        for layer, colour, (y0, x0), speed in tracks:
            shift = (int(np.floor(y0 + dy * speed * t)) % canvas,
                     int(np.floor(x0 + dx * speed * t)) % canvas)
            a = np.roll(layer, shift, axis=(0, 1))[..., None]
            frame = frame * (1 - a) + colour * a
        frames.append(to_uint8(frame))
    return frames, sources


def render_bouncing_clip(rng: np.random.Generator, pool: DigitPool,
                         palette: Palette, num_frames: int, canvas: int,
                         num_digits: int, size_range: Tuple[int, int],
                         speed_range: Tuple[float, float]) -> Clip:
    """Frames of digits moving freely and bouncing off the canvas walls.

    Returns:
        tuple: BGR uint8 frames and the ``load_digits`` indices drawn.
    """
    background = palette.background(rng, canvas, canvas)
    sprites, sources = _sprites(rng, pool, palette, num_digits, size_range)
    states = []
    for alpha, colour in sprites:
        limit = canvas - alpha.shape[0]
        pos = rng.uniform(0, limit, size=2)
        angle = rng.uniform(0, 2 * np.pi)
        vel = rng.uniform(*speed_range) * np.array(
            [np.sin(angle), np.cos(angle)])
        states.append([alpha, colour, pos, vel, limit])
    frames = []
    for _ in range(num_frames):
        frame = background.copy()
        for alpha, colour, pos, _, _ in states:
            paste(frame, alpha, colour, int(round(pos[0])), int(round(pos[1])))
        frames.append(to_uint8(frame))
        for state in states:
            pos, vel, limit = state[2], state[3], state[4]
            pos += vel
            for axis in range(2):
                # reflect off the wall
                if pos[axis] < 0:
                    pos[axis], vel[axis] = -pos[axis], -vel[axis]
                elif pos[axis] > limit:
                    pos[axis] = 2 * limit - pos[axis]
                    vel[axis] = -vel[axis]
    return frames, sources
