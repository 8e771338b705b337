# Copyright (c) vicmae_mm contributors. All rights reserved.
"""Turning image-ViT weights into video-ViT weights (pure tensor functions).

Used by :class:`InflatedVisionTransformer` when it loads a pretraining
checkpoint; kept free of module state so converters and tests can call
them directly.
"""
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

