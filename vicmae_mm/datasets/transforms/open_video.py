# Copyright (c) vicmae_mm contributors. All rights reserved.
"""Open a video container with decord without decoding any frame."""
import io
import math
import os.path as osp
from typing import Optional

from mmcv.transforms import BaseTransform
from mmengine import fileio

from ..sample_errors import VideoReadError
from .registration import register_transform


def _decord_message(err: Exception) -> str:
    """The informative last line of a decord/FFmpeg error."""
    lines = [ln.strip() for ln in str(err).strip().splitlines() if ln.strip()]
    return lines[-1] if lines else type(err).__name__


@register_transform
class OpenVideo(BaseTransform):
    """Open a video with decord; read only its index (frame count, fps).

    Writes the same keys as mmaction2's ``DecordInit``, so either can
    precede :class:`SampleFramePair` and mmaction2's samplers and
    ``DecordDecode`` can follow. Unlike ``DecordInit``, a local file is
    opened by path (not copied into memory), and every failure raises
    :class:`VideoReadError` naming the file and the reason.

    **Required Keys:** ``filename``

    **Added Keys:** ``video_reader``, ``total_frames``, ``avg_fps``

    Args:
        num_threads (int): decord threads; 1 suits dataloader workers (0
            would use every core in every worker).
        backend_args (dict, optional): File backend arguments for non-local
            storage; the bytes are then read into memory.
    """

    def __init__(self,
                 num_threads: int = 1,
                 backend_args: Optional[dict] = None) -> None:
        if not isinstance(num_threads, int) or num_threads < 0:
            raise ValueError(f'OpenVideo: num_threads must be an int >= 0, '
                             f'got {num_threads!r}')
        self.num_threads = num_threads
        self.backend_args = backend_args

    def _open(self, filename: str):
        import decord
        local = self.backend_args is None or isinstance(
            fileio.get_file_backend(filename, backend_args=self.backend_args),
            fileio.LocalBackend)
        if local:
            if not osp.isfile(filename):
                raise VideoReadError(f'video file not found: {filename}')
            if osp.getsize(filename) == 0:
                raise VideoReadError(f'empty video file (0 bytes): {filename}')
            source = filename
        else:
            try:
                data = fileio.get(filename, backend_args=self.backend_args)
            except Exception as err:  # backend errors vary by storage
                raise VideoReadError(
                    f'cannot read video {filename}: {err}') from err
            if not data:
                raise VideoReadError(f'empty video file (0 bytes): {filename}')
            source = io.BytesIO(data)
        try:
            return decord.VideoReader(source, num_threads=self.num_threads)
        except (RuntimeError, decord.DECORDError) as err:
            raise VideoReadError(f'cannot open video {filename} (corrupt, '
                                 f'truncated or not a video): '
                                 f'{_decord_message(err)}') from None

    def transform(self, results: dict) -> dict:
        """Open ``results['filename']``.

        Raises:
            VideoReadError: Missing, empty or unreadable video, or one
                without frames.
        """
        filename = results['filename']
        reader = self._open(filename)
        total = len(reader)
        if total < 1:
            raise VideoReadError(f'video has no frames: {filename}')
        fps = float(reader.get_avg_fps())
        results['video_reader'] = reader
        results['total_frames'] = total
        # NaN/0 fps is kept as read; SampleFramePair rejects it only when the
        # gap is given in seconds.
        results['avg_fps'] = fps if math.isfinite(fps) else float('nan')
        return results

    def __repr__(self) -> str:
        return (f'{self.__class__.__name__}(num_threads={self.num_threads}, '
                f'backend_args={self.backend_args})')
