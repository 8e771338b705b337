# Copyright (c) vicmae_mm contributors. All rights reserved.
"""The vicmae_mm checkpoint layout (docs/architecture.md, "Checkpoint
contract") and its structure checks."""
import re
from typing import Any, Dict, List, Sequence

import torch

StateDict = Dict[str, torch.Tensor]


class CheckpointFormatError(ValueError):
    """A checkpoint does not have the layout a converter expects."""


# (timm / official sub-module, mmpretrain sub-module) inside one transformer
# block; the encoder's and the MAE decoder's blocks share it.
BLOCK_PARTS = (
    ('norm1', 'ln1'),
    ('attn.qkv', 'attn.qkv'),
    ('attn.proj', 'attn.proj'),
    ('norm2', 'ln2'),
    ('mlp.fc1', 'ffn.layers.0.0'),
    ('mlp.fc2', 'ffn.layers.1'),
)
LINEAR_PARAMS = ('weight', 'bias')
VICMAE_PROJECTOR_KEY = re.compile(
    r'^projector\.(?P<kind>fc|bn)(?P<k>\d+)\.(?P<q>\w+)$')
# Prefixes of a vicmae_mm pretraining checkpoint that are not the encoder.
PRETRAIN_ONLY_PREFIXES = ('neck.', 'projector.', 'pool_neck.')


def block_indices(keys: Sequence[str], prefix: str) -> List[int]:
    """Sorted block indices ``i`` of the keys ``{prefix}{i}.*``."""
    regex = re.compile(rf'^{re.escape(prefix)}(\d+)\.')
    return sorted({int(m.group(1)) for m in map(regex.match, keys) if m})


def _check_blocks(keys: Sequence[str], prefix: str, what: str) -> int:
    """All blocks ``0..n-1`` present, each with all 12 tensors."""
    indices = block_indices(keys, prefix)
    if indices != list(range(len(indices))):
        raise CheckpointFormatError(
            f'{what}: block indices under "{prefix}" are not contiguous: '
            f'{indices}')
    expected = [f'{b}.{p}' for _, b in BLOCK_PARTS for p in LINEAR_PARAMS]
    keyset = set(keys)
    for i in indices:
        missing = [e for e in expected if f'{prefix}{i}.{e}' not in keyset]
        if missing:
            raise CheckpointFormatError(
                f'{what}: block {prefix}{i} is incomplete, missing '
                f'{missing}')
    return len(indices)


def _require(state_dict: StateDict, keys: Sequence[str], problem: str):
    missing = [k for k in keys if k not in state_dict]
    if missing:
        raise CheckpointFormatError(f'{problem}, missing {missing}')


def check_vicmae_encoder(state_dict: StateDict, what: str) -> Dict[str, Any]:
    """Check a complete encoder under ``backbone.`` and describe it.

    Returns:
        dict: ``embed_dims``, ``num_layers``, ``patch_size``,
        ``num_patches``, ``feedforward_channels`` found in the weights.
    """
    _require(state_dict, [
        'backbone.cls_token', 'backbone.pos_embed',
        'backbone.patch_embed.projection.weight', 'backbone.ln1.weight',
        'backbone.ln1.bias'
    ], f'{what}: not a complete ViC-MAE encoder')
    depth = _check_blocks(list(state_dict), 'backbone.layers.', what)
    if depth == 0:
        raise CheckpointFormatError(f'{what}: the encoder has no blocks')
    cls = state_dict['backbone.cls_token']
    pos = state_dict['backbone.pos_embed']
    patch = state_dict['backbone.patch_embed.projection.weight']
    dims = cls.shape[-1]
    if pos.dim() != 3 or pos.shape[-1] != dims or patch.shape[0] != dims:
        raise CheckpointFormatError(
            f'{what}: inconsistent encoder widths: cls_token '
            f'{tuple(cls.shape)}, pos_embed {tuple(pos.shape)}, patch '
            f'projection {tuple(patch.shape)}')
    return dict(
        embed_dims=int(dims),
        num_layers=depth,
        patch_size=int(patch.shape[-1]),
        num_patches=int(pos.shape[1] - 1),
        feedforward_channels=int(
            state_dict['backbone.layers.0.ffn.layers.0.0.weight'].shape[0]))


def check_decoder(state_dict: StateDict, what: str) -> None:
    """Check a complete MAE decoder under ``neck.``, if there is one."""
    keys = [k for k in state_dict if k.startswith('neck.')]
    if keys:
        _require(state_dict, [
            'neck.decoder_embed.weight', 'neck.mask_token',
            'neck.decoder_pos_embed', 'neck.ln1.weight',
            'neck.decoder_pred.weight'
        ], f'{what}: the MAE decoder is incomplete')
        _check_blocks(keys, 'neck.decoder_blocks.', what)
