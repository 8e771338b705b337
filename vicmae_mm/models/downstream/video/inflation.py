# Copyright (c) vicmae_mm contributors. All rights reserved.
"""Turning image-ViT patch kernels into video-ViT tubelet kernels."""
import torch

INFLATION_MODES = ('average', 'center')


def inflate_patch_kernel(weight: torch.Tensor, tubelet_size: int,
                         mode: str = 'average') -> torch.Tensor:
    """Inflate ``(C, in, p, p)`` to ``(C, in, t, p, p)``: ``'average'`` repeats
    it divided by ``t`` (I3D), ``'center'`` puts it in frame ``t // 2``."""
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
