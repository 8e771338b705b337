# Copyright (c) vicmae_mm contributors. All rights reserved.
"""Handwritten digit sprites and the canvases they are drawn on.

The source is scikit-learn's bundled copy of the UCI handwritten digits
(1797 grey 8x8 images, values 0..16, labels 0..9), read from inside the
wheel by :func:`sklearn.datasets.load_digits`; nothing is downloaded.
"""
from dataclasses import dataclass
from typing import Dict, List, Tuple

import cv2
import numpy as np

NUM_CLASSES = 10
DIGIT_MAX = 16.0
# alpha above this is "stroke" for masks and boxes
MASK_THRESHOLD = 0.5


@dataclass
class DigitPool:
    """Indices into ``load_digits`` for one split, grouped by class.

    Args:
        images (np.ndarray): All digit images, ``(N, 8, 8)`` in ``[0, 16]``.
        labels (np.ndarray): Their labels, ``(N,)``.
        indices (np.ndarray): The indices of this split.
    """
    images: np.ndarray
    labels: np.ndarray
    indices: np.ndarray

    def by_class(self, label: int) -> np.ndarray:
        """Indices of this split whose digit is ``label``."""
        return self.indices[self.labels[self.indices] == label]

    def draw(self,
             rng: np.random.Generator,
             label: int = None) -> Tuple[int, int]:
        """Pick one digit of this split (of class ``label`` if given).

        Returns:
            tuple: ``(index into load_digits, label)``.
        """
        pool = self.indices if label is None else self.by_class(label)
        if len(pool) == 0:
            raise ValueError(f'no digit of class {label} in this split')
        idx = int(rng.choice(pool))
        return idx, int(self.labels[idx])


def load_digit_splits(val_fraction: float,
                      rng: np.random.Generator) -> Dict[str, DigitPool]:
    """Split the bundled digits into disjoint train/val pools per class.

    Args:
        val_fraction (float): Fraction of each class kept for val, in
            ``(0, 1)``.
        rng (np.random.Generator): Source of the split permutation.

    Returns:
        dict: ``{'train': DigitPool, 'val': DigitPool}``.
    """
    from sklearn.datasets import load_digits
    if not 0.0 < val_fraction < 1.0:
        raise ValueError(
            f'--val-fraction must be in (0, 1), got {val_fraction}')
    digits = load_digits()
    images = digits.images.astype(np.float32)
    labels = digits.target.astype(np.int64)
    train, val = [], []
    for label in range(NUM_CLASSES):
        idx = np.flatnonzero(labels == label)
        idx = idx[rng.permutation(len(idx))]
        n_val = max(1, int(round(len(idx) * val_fraction)))
        val.append(idx[:n_val])
        train.append(idx[n_val:])
    return {
        'train': DigitPool(images, labels, np.sort(np.concatenate(train))),
        'val': DigitPool(images, labels, np.sort(np.concatenate(val))),
    }


def digit_alpha(digit: np.ndarray, size: int) -> np.ndarray:
    """Upscale an 8x8 digit to a ``size x size`` opacity map in ``[0, 1]``.

    Bilinear upscaling keeps the strokes smooth; the gain makes the stroke
    cores fully opaque so the colour reads clearly on the canvas.
    """
    alpha = cv2.resize(
        digit / DIGIT_MAX, (size, size), interpolation=cv2.INTER_LINEAR)
    return np.clip(alpha * 1.3, 0.0, 1.0).astype(np.float32)


def random_digit_colour(rng: np.random.Generator) -> np.ndarray:
    """A saturated, bright BGR colour (float32, 0..255)."""
    hsv = np.array([[[
        rng.integers(0, 180),
        rng.integers(140, 256),
        rng.integers(220, 256)
    ]]],
                   dtype=np.uint8)
    return cv2.cvtColor(hsv, cv2.COLOR_HSV2BGR)[0, 0].astype(np.float32)


def random_background(rng: np.random.Generator,
                      height: int,
                      width: int,
                      noise_std: float = 0.0) -> np.ndarray:
    """A dark BGR canvas with a linear colour gradient (float32, 0..255).

    Args:
        rng (np.random.Generator): Randomness source.
        height (int): Canvas height.
        width (int): Canvas width.
        noise_std (float): Std of additive Gaussian pixel noise.

    Returns:
        np.ndarray: ``(height, width, 3)`` float32.
    """
    start = rng.uniform(0, 70, size=3)
    end = rng.uniform(0, 70, size=3)
    angle = rng.uniform(0, 2 * np.pi)
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float32)
    ramp = (
        np.cos(angle) * xx / max(width - 1, 1) +
        np.sin(angle) * yy / max(height - 1, 1))
    ramp = (ramp - ramp.min()) / max(float(np.ptp(ramp)), 1e-6)
    canvas = start + ramp[..., None] * (end - start)
    if noise_std > 0:
        canvas = canvas + rng.normal(0, noise_std, canvas.shape)
    return canvas.astype(np.float32)


@dataclass
class Palette:
    """How digits and canvases are coloured.

    Args:
        plain (bool): Near-white digits on a uniform dark canvas without
            noise, so digit shape is almost the only variation. Otherwise
            (default) every digit gets a random saturated colour and every
            canvas a random dark gradient plus pixel noise: nuisance that a
            representation has to see through.
    """
    plain: bool = False

    def digit_colour(self, rng: np.random.Generator) -> np.ndarray:
        """BGR colour of one digit (float32, 0..255)."""
        if self.plain:
            return np.full(3, rng.uniform(215, 255), np.float32)
        return random_digit_colour(rng)

    def background(self, rng: np.random.Generator, height: int, width: int,
                   noise_std: float = 0.0) -> np.ndarray:
        """A ``(height, width, 3)`` float32 canvas."""
        if self.plain:
            return np.full((height, width, 3), 20.0, np.float32)
        return random_background(rng, height, width, noise_std)


def paste(canvas: np.ndarray, alpha: np.ndarray, colour: np.ndarray, top: int,
          left: int) -> None:
    """Alpha-blend a sprite of one colour onto ``canvas`` in place.

    The sprite must lie fully inside the canvas.
    """
    h, w = alpha.shape
    region = canvas[top:top + h, left:left + w]
    a = alpha[..., None]
    region[...] = region * (1 - a) + colour * a


def to_uint8(canvas: np.ndarray) -> np.ndarray:
    """Round and clip a float canvas to a uint8 image."""
    return np.clip(np.rint(canvas), 0, 255).astype(np.uint8)


def place_without_overlap(rng: np.random.Generator,
                          sizes: List[int],
                          height: int,
                          width: int,
                          max_tries: int = 200) -> List[Tuple[int, int, int]]:
    """Places square sprites so that their boxes do not overlap.

    Returns:
        list: ``(top, left, size)`` of each placed sprite. A sprite that
        cannot be placed within ``max_tries`` is left out.
    """
    placed: List[Tuple[int, int, int]] = []
    for size in sizes:
        if size > min(height, width):
            raise ValueError(f'digit size {size} does not fit a '
                             f'{height}x{width} canvas')
        for _ in range(max_tries):
            top = int(rng.integers(0, height - size + 1))
            left = int(rng.integers(0, width - size + 1))
            if all(top + size <= t or t + s <= top or left + size <= l or l +
                   s <= left for t, l, s in placed):
                placed.append((top, left, size))
                break
    return placed
