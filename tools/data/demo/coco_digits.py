# Copyright (c) vicmae_mm contributors. All rights reserved.
"""COCO-format detection + instance segmentation of digits on a canvas.

Each image holds a few digits whose boxes do not overlap. An instance's mask
is its stroke region (upscaled digit opacity above ``MASK_THRESHOLD``, inner
holes filled, as COCO polygons cannot carry holes); its polygons are traced
so that pycocotools rasterises them back to exactly that pixel mask, and its
``area`` and ``bbox`` are computed by pycocotools from those polygons, so
they agree with the masks by construction.
"""
from typing import Dict, List, Tuple

import cv2
import numpy as np
from pycocotools import mask as mask_utils

from digit_canvas import (MASK_THRESHOLD, NUM_CLASSES, DigitPool, Palette,
                          digit_alpha, paste, place_without_overlap, to_uint8)

CATEGORIES = [{
    'id': label + 1,
    'name': str(label),
    'supercategory': 'digit'
} for label in range(NUM_CLASSES)]
# polygons are traced on a mask upscaled by this factor and mapped back:
# their vertices then follow pixel edges, not pixel centres
_TRACE_SCALE = 4


def mask_to_polygons(mask: np.ndarray) -> List[List[float]]:
    """Outer contours of a binary mask as COCO polygons (x, y, x, y, ...).

    The polygons rasterise (pycocotools) to the mask with holes filled.
    """
    up = cv2.resize(
        mask.astype(np.uint8),
        (mask.shape[1] * _TRACE_SCALE, mask.shape[0] * _TRACE_SCALE),
        interpolation=cv2.INTER_NEAREST)
    contours, _ = cv2.findContours(up, cv2.RETR_EXTERNAL,
                                   cv2.CHAIN_APPROX_SIMPLE)
    polygons = []
    for contour in contours:
        if len(contour) < 3:
            continue
        xy = (contour.reshape(-1).astype(np.float64) + 0.5) / _TRACE_SCALE
        polygons.append([round(float(v), 3) for v in xy])
    return polygons


def polygons_area_bbox(polygons: List[List[float]], height: int,
                       width: int) -> Tuple[int, List[float]]:
    """Area and ``[x, y, w, h]`` box of polygons as pycocotools sees them."""
    rle = mask_utils.merge(mask_utils.frPyObjects(polygons, height, width))
    area = int(mask_utils.area(rle))
    bbox = [float(v) for v in mask_utils.toBbox(rle)]
    return area, bbox


def render_detection_image(rng: np.random.Generator, pool: DigitPool,
                           palette: Palette, canvas: int,
                           digits_range: Tuple[int, int],
                           size_range: Tuple[int, int],
                           noise_std: float) -> Tuple[np.ndarray, List[Dict]]:
    """One canvas with several non-overlapping digits and their instances.

    Returns:
        tuple: BGR uint8 image and a list of instances, each with
        ``category_id``, ``segmentation`` (polygons), ``area``, ``bbox``
        and ``digit_index`` (the ``load_digits`` index, for provenance).
    """
    image = palette.background(rng, canvas, canvas, noise_std=noise_std)
    num = int(rng.integers(digits_range[0], digits_range[1] + 1))
    sizes = [
        int(rng.integers(size_range[0], size_range[1] + 1)) for _ in range(num)
    ]
    instances = []
    for top, left, size in place_without_overlap(rng, sizes, canvas, canvas):
        idx, label = pool.draw(rng)
        alpha = digit_alpha(pool.images[idx], size)
        paste(image, alpha, palette.digit_colour(rng), top, left)
        mask = np.zeros((canvas, canvas), np.uint8)
        mask[top:top + size, left:left + size] = alpha > MASK_THRESHOLD
        polygons = mask_to_polygons(mask)
        if not polygons:
            continue
        area, bbox = polygons_area_bbox(polygons, canvas, canvas)
        instances.append(
            dict(
                category_id=label + 1,
                segmentation=polygons,
                area=area,
                bbox=bbox,
                iscrowd=0,
                digit_index=idx))
    return to_uint8(image), instances
