# Copyright (c) vicmae_mm contributors. All rights reserved.
"""Choose the two frames of a video that become the two views."""
import math
from typing import Sequence

import numpy as np
from mmcv.transforms import BaseTransform

from ..sample_errors import VideoReadError
from .registration import register_transform


@register_transform
class SampleFramePair(BaseTransform):
    """Pick two frame indices of one video a temporal gap apart.

    The gap is drawn uniformly from ``gap_range`` in seconds (converted with
    the average fps, rounded to whole frames) or in whole frames; then the
    first frame uniformly among the positions where the pair fits. Draws use
    NumPy's global RNG, which :class:`MixedPairDataset` seeds per sample.

    A video shorter than the gap, with ``short_video='clamp'``, gets the
    longest gap it allows (``total_frames - 1``, marked ``gap_clamped``);
    with ``'skip'`` it raises :class:`VideoReadError`, as a 1-frame video
    always does (unless ``gap_range`` is ``(0, 0)``).

    **Required Keys:** ``total_frames``, ``avg_fps`` (for seconds),
    ``filename`` (for messages)

    **Added Keys:** ``frame_inds`` (int64, shape (2,)), ``frame_times``
    (seconds; NaN if the fps is unknown), ``frame_gap`` (frames),
    ``gap_clamped``, and ``clip_len=2``, ``num_clips=1``,
    ``frame_interval`` so mmaction2's ``DecordDecode`` can decode the pair.

    Args:
        gap_range (Sequence[float]): ``(min, max)`` gap, ``0 <= min <= max``.
        gap_unit (str): ``'second'`` or ``'frame'``.
        short_video (str): ``'clamp'`` or ``'skip'``.
        random_order (bool): Swap the two frames with probability 0.5, so
            view 1 is not always the earlier frame.
    """

    UNITS = ('second', 'frame')
    SHORT_VIDEO_POLICIES = ('clamp', 'skip')

    def __init__(self,
                 gap_range: Sequence[float] = (1.0, 1.0),
                 gap_unit: str = 'second',
                 short_video: str = 'clamp',
                 random_order: bool = False) -> None:
        if gap_unit not in self.UNITS:
            raise ValueError(f'SampleFramePair: gap_unit must be one of '
                             f'{self.UNITS}, got {gap_unit!r}')
        if short_video not in self.SHORT_VIDEO_POLICIES:
            raise ValueError(f'SampleFramePair: short_video must be one of '
                             f'{self.SHORT_VIDEO_POLICIES}, got '
                             f'{short_video!r}')
        if (not isinstance(gap_range, (list, tuple)) or len(gap_range) != 2
                or not all(isinstance(v, (int, float)) for v in gap_range)):
            raise ValueError(f'SampleFramePair: gap_range must be (min, max) '
                             f'numbers, got {gap_range!r}')
        low, high = float(gap_range[0]), float(gap_range[1])
        if not (math.isfinite(low) and math.isfinite(high)
                and 0 <= low <= high):
            raise ValueError(f'SampleFramePair: gap_range must satisfy '
                             f'0 <= min <= max, got {gap_range!r}')
        if gap_unit == 'frame' and not (low.is_integer()
                                        and high.is_integer()):
            raise ValueError(f'SampleFramePair: gap_range in frames must be '
                             f'whole numbers, got {gap_range!r}')
        self.gap_range = (low, high)
        self.gap_unit = gap_unit
        self.short_video = short_video
        self.random_order = bool(random_order)

    def _draw_gap(self, fps: float, filename: str) -> int:
        """Gap in frames (before the short-video policy)."""
        low, high = self.gap_range
        if self.gap_unit == 'frame':
            return int(np.random.randint(int(low), int(high) + 1))
        if not (math.isfinite(fps) and fps > 0):
            raise VideoReadError(
                f'video {filename} reports an invalid fps ({fps}); a gap in '
                f'seconds cannot be converted to frames (use '
                f"gap_unit='frame' or re-encode the video)")
        seconds = np.random.uniform(low, high) if high > low else low
        gap = int(round(seconds * fps))
        # a positive gap in seconds never collapses to the same frame
        return max(gap, 1) if low > 0 else gap

    def transform(self, results: dict) -> dict:
        """Sample the pair.

        Raises:
            VideoReadError: 1-frame video, invalid fps for a gap in seconds,
                or a short video under ``short_video='skip'``.
        """
        filename = results.get('filename', '<unknown video>')
        total = int(results['total_frames'])
        fps = float(results.get('avg_fps', float('nan')))
        gap = self._draw_gap(fps, filename)
        if total < 1:
            raise VideoReadError(f'video has no frames: {filename}')
        if total == 1 and gap > 0:
            raise VideoReadError(
                f'video {filename} has 1 frame; a frame pair needs at '
                f'least 2 distinct frames')
        clamped = gap > total - 1
        if clamped:
            if self.short_video == 'skip':
                raise VideoReadError(
                    f'video {filename} has {total} frames, shorter than the '
                    f'sampled gap of {gap} frames (short_video="skip")')
            gap = total - 1
        start = int(np.random.randint(0, total - gap))
        inds = np.array([start, start + gap], dtype=np.int64)
        if self.random_order and np.random.rand() < 0.5:
            inds = inds[::-1].copy()
        results['frame_inds'] = inds
        results['frame_times'] = (
            inds /
            fps if math.isfinite(fps) and fps > 0 else np.full(2, np.nan))
        results['frame_gap'] = gap
        results['gap_clamped'] = bool(clamped)
        # mmaction2 DecordDecode compatibility: one clip of two frames
        results['clip_len'] = 2
        results['num_clips'] = 1
        results['frame_interval'] = gap
        return results

    def __repr__(self) -> str:
        return (f'{self.__class__.__name__}(gap_range={self.gap_range}, '
                f"gap_unit='{self.gap_unit}', "
                f"short_video='{self.short_video}', "
                f'random_order={self.random_order})')
