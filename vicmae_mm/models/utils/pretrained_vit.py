# Copyright (c) vicmae_mm contributors. All rights reserved.
"""Arch lookup, "is pretrained" and cls split for the downstream backbones."""
import math
from typing import Optional, Tuple, Union

import torch
from mmengine.model.weight_init import PretrainedInit

_ARCH_KEYS = ('embed_dims', 'num_layers', 'num_heads', 'feedforward_channels')


def resolve_arch(owner: str, arch: Union[str, dict], arch_zoo: dict) -> dict:
    """A copy of ``arch``'s settings: a name in ``arch_zoo`` or a dict with
    every key of ``_ARCH_KEYS``; ``owner`` names the caller in errors."""
    if isinstance(arch, str):
        if arch.lower() not in arch_zoo:
            raise ValueError(f'{owner}: unknown arch {arch!r}; choose from '
                             f'{sorted(arch_zoo)} or pass a dict')
        return dict(arch_zoo[arch.lower()])
    if not isinstance(arch, dict) or not set(_ARCH_KEYS) <= set(arch):
        raise ValueError(f'{owner}: a custom arch must be a dict with keys '
                         f'{sorted(_ARCH_KEYS)}, got {arch!r}')
    return dict(arch)


def is_pretrained(init_cfg: Union[dict, list, None]) -> bool:
    """Whether ``init_cfg`` (a dict or a list) has ``type='Pretrained'``."""
    cfgs = init_cfg if isinstance(init_cfg, (list, tuple)) else [init_cfg]
    return any(
        isinstance(c, dict) and c.get('type') in ('Pretrained', PretrainedInit)
        for c in cfgs)


def split_cls_position(
    pos_embed: torch.Tensor,
    name: str = 'position embedding'
) -> Tuple[Optional[torch.Tensor], torch.Tensor, Tuple[int, int]]:
    """Split ``(1, [1 +] h * w, C)`` of a square grid into the cls position
    (or None, if the length is a square), patch positions and ``(h, w)``."""
    if pos_embed.ndim != 3 or pos_embed.shape[0] != 1:
        raise ValueError(f'{name}: expected shape (1, L, C), got '
                         f'{tuple(pos_embed.shape)}')
    length = pos_embed.shape[1]
    for extra in (0, 1):
        side = math.isqrt(length - extra)
        if side * side == length - extra:
            return (pos_embed[:, :1] if extra else None,
                    pos_embed[:, extra:], (side, side))
    raise ValueError(f'{name} has {length} positions, neither a square grid '
                     'nor a square grid plus one cls position')
