# Copyright (c) vicmae_mm contributors. All rights reserved.
"""Turning image-ViT weights into video-ViT weights (pure tensor functions).

Used by :class:`InflatedVisionTransformer` when it loads a pretraining
checkpoint; kept free of module state so converters and tests can call
them directly.
"""
import math
from typing import Optional, Tuple

import torch

INFLATION_MODES = ('average', 'center')


def inflate_patch_kernel(weight: torch.Tensor, tubelet_size: int,
                         mode: str = 'average') -> torch.Tensor:
    """Inflate a 2-D patch kernel ``(C, in, p, p)`` to ``(C, in, t, p, p)``.

    Both modes give a clip of identical frames the same response as the
    image kernel gives one frame:

    - ``'average'``: the kernel is repeated over time and divided by ``t``
      (I3D-style); every frame of the tubelet contributes equally.
    - ``'center'``: the kernel sits in the middle frame (index ``t // 2``),
      the other frames get zeros, so at initialisation each tubelet sees a
      single frame.

    Args:
        weight (torch.Tensor): Image patch-embedding kernel, 4-D.
        tubelet_size (int): Temporal kernel size ``t`` (>= 1).
        mode (str): ``'average'`` or ``'center'``. Defaults to
            ``'average'``.

    Returns:
        torch.Tensor: The 5-D kernel, same dtype and device.
    """
    if weight.ndim != 4:
        raise ValueError('inflate_patch_kernel expects a 4-D image kernel '
                         f'(C, in, p, p), got shape {tuple(weight.shape)}')
    if tubelet_size < 1:
        raise ValueError(f'tubelet_size must be >= 1, got {tubelet_size}')
    if mode == 'average':
        return weight.unsqueeze(2).repeat(1, 1, tubelet_size, 1, 1) \
            / tubelet_size
    if mode == 'center':
        out = weight.new_zeros(weight.shape[:2] + (tubelet_size, ) +
                               weight.shape[2:])
        out[:, :, tubelet_size // 2] = weight
        return out
    raise ValueError(f'unknown inflation mode {mode!r}; choose from '
                     f'{INFLATION_MODES}')


def split_cls_position(
        pos_embed: torch.Tensor) -> Tuple[Optional[torch.Tensor],
                                          torch.Tensor, Tuple[int, int]]:
    """Split an image position embedding into cls position and patch grid.

    Image checkpoints store ``(1, [1 +] h * w, C)`` for a square grid; the
    cls position is present iff the length is one more than a square.

    Args:
        pos_embed (torch.Tensor): ``(1, L, C)``.

    Returns:
        tuple: cls position ``(1, 1, C)`` or None, patch positions
        ``(1, h * w, C)`` and the grid ``(h, w)``.
    """
    if pos_embed.ndim != 3 or pos_embed.shape[0] != 1:
        raise ValueError('expected a position embedding of shape (1, L, C), '
                         f'got {tuple(pos_embed.shape)}')
    length = pos_embed.shape[1]
    side = math.isqrt(length)
    if side * side == length:
        return None, pos_embed, (side, side)
    side = math.isqrt(length - 1)
    if side * side == length - 1:
        return pos_embed[:, :1], pos_embed[:, 1:], (side, side)
    raise ValueError(
        f'position embedding of length {length} is neither a square patch '
        'grid nor a square grid plus one cls position')
