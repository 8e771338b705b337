# Copyright (c) vicmae_mm contributors. All rights reserved.
"""Decode exactly the two sampled frames of a video."""
import numpy as np
from mmcv.transforms import BaseTransform

from ..sample_errors import VideoReadError
from .open_video import _decord_message
from .registration import register_transform


@register_transform
class DecodeFramePair(BaseTransform):
    """Decode the two frames chosen by :class:`SampleFramePair`.

    Only those two frames are requested from decord (one ``get_batch``
    call), never the whole clip. They are handed on as a list of two HWC
    uint8 arrays under ``img``, the layout of ``LoadImageFromFile``, so
    :class:`PairedMultiView` applies image transforms to each. Frames are
    BGR by default, as ``LoadImageFromFile`` gives and mmcv transforms
    assume, so video and image views agree in one mixed batch (which
    ``SelfSupDataPreprocessor(to_rgb=True)`` flips to RGB).

    **Required Keys:** ``video_reader``, ``frame_inds``, ``filename``

    **Added Keys:** ``img`` (list of two arrays), ``img_shape``,
    ``ori_shape``

    **Deleted Keys:** ``video_reader`` (the reader is closed)

    Args:
        channel_order (str): ``'bgr'`` or ``'rgb'`` (decord's own order).
    """

    CHANNEL_ORDERS = ('bgr', 'rgb')

    def __init__(self, channel_order: str = 'bgr') -> None:
        if channel_order not in self.CHANNEL_ORDERS:
            raise ValueError(f'DecodeFramePair: channel_order must be one of '
                             f'{self.CHANNEL_ORDERS}, got {channel_order!r}')
        self.channel_order = channel_order

    def transform(self, results: dict) -> dict:
        """Decode the pair.

        Raises:
            VideoReadError: If decord fails or returns anything other than
                two HxWx3 uint8 frames.
        """
        filename = results.get('filename', '<unknown video>')
        reader = results.pop('video_reader')
        inds = [int(i) for i in np.asarray(results['frame_inds']).reshape(-1)]
        if len(inds) != 2:
            raise ValueError(f'DecodeFramePair expects 2 frame indices, got '
                             f'{inds} for {filename}')
        try:
            frames = reader.get_batch(inds)
        except Exception as err:  # decord raises DECORDError/RuntimeError
            raise VideoReadError(
                f'cannot decode frames {inds} of video '
                f'{filename}: {_decord_message(err)}') from None
        finally:
            del reader
        # works with decord's native and torch bridges alike
        frames = (
            frames.asnumpy()
            if hasattr(frames, 'asnumpy') else np.asarray(frames))
        if (frames.ndim != 4 or frames.shape[0] != 2 or frames.shape[-1] != 3
                or frames.dtype != np.uint8 or 0 in frames.shape):
            raise VideoReadError(
                f'decoding frames {inds} of video {filename} gave an array of '
                f'shape {frames.shape} and dtype {frames.dtype}, expected '
                f'(2, H, W, 3) uint8')
        if self.channel_order == 'bgr':
            frames = frames[..., ::-1]
        views = [np.ascontiguousarray(f) for f in frames]
        results['img'] = views
        results['img_shape'] = results['ori_shape'] = views[0].shape[:2]
        return results

    def __repr__(self) -> str:
        return (f"{self.__class__.__name__}("
                f"channel_order='{self.channel_order}')")
