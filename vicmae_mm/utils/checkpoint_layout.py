# Copyright (c) vicmae_mm contributors. All rights reserved.
"""What a vicmae_mm checkpoint's ``state_dict`` must hold: the encoder
under ``backbone.`` (mmpretrain ``VisionTransformer`` names), the MAE
decoder under ``neck.``, the projector under ``projector.fc{k}/bn{k}``;
structure checks and the architecture the weights describe (see
``docs/architecture.md``)."""
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


def _block_indices(keys: Sequence[str], prefix: str) -> List[int]:
    regex = re.compile(rf'^{re.escape(prefix)}(\d+)\.')
    return sorted(
        {int(m.group(1))
         for k in keys
         for m in [regex.match(k)] if m})


def _check_blocks(keys: Sequence[str], prefix: str, what: str) -> int:
    """All blocks ``0..n-1`` present, each with all 12 tensors."""
    indices = _block_indices(keys, prefix)
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


def check_vicmae_encoder(state_dict: StateDict, what: str) -> Dict[str, Any]:
    """Check a complete encoder under ``backbone.`` and describe it.

    Args:
        state_dict (dict): vicmae_mm-layout state dict.
        what (str): Name of the checkpoint, for error messages.

    Returns:
        dict: ``embed_dims``, ``num_layers``, ``patch_size``,
        ``num_patches``, ``feedforward_channels`` found in the weights.
    """
    required = [
        'backbone.cls_token', 'backbone.pos_embed',
        'backbone.patch_embed.projection.weight', 'backbone.ln1.weight',
        'backbone.ln1.bias'
    ]
    missing = [k for k in required if k not in state_dict]
    if missing:
        raise CheckpointFormatError(
            f'{what}: not a complete ViC-MAE encoder, missing {missing}')
    depth = _check_blocks(list(state_dict), 'backbone.layers.', what)
    if depth == 0:
        raise CheckpointFormatError(f'{what}: the encoder has no blocks')
    dims = state_dict['backbone.cls_token'].shape[-1]
    pos = state_dict['backbone.pos_embed']
    patch = state_dict['backbone.patch_embed.projection.weight']
    if pos.dim() != 3 or pos.shape[-1] != dims or patch.shape[0] != dims:
        raise CheckpointFormatError(
            f'{what}: inconsistent encoder widths: cls_token '
            f'{tuple(state_dict["backbone.cls_token"].shape)}, pos_embed '
            f'{tuple(pos.shape)}, patch projection {tuple(patch.shape)}')
    return dict(
        embed_dims=int(dims),
        num_layers=depth,
        patch_size=int(patch.shape[-1]),
        num_patches=int(pos.shape[1] - 1),
        feedforward_channels=int(
            state_dict['backbone.layers.0.ffn.layers.0.0.weight'].shape[0]))


def describe_pretrain_heads(state_dict: StateDict) -> Dict[str, Any]:
    """Sizes of the decoder and projector in a vicmae_mm state dict."""
    info: Dict[str, Any] = {}
    if 'neck.decoder_embed.weight' in state_dict:
        info['decoder_embed_dim'] = int(
            state_dict['neck.decoder_embed.weight'].shape[0])
        info['decoder_depth'] = len(
            _block_indices(list(state_dict), 'neck.decoder_blocks.'))
    fcs = sorted({
        int(m.group('k'))
        for k in state_dict
        for m in [VICMAE_PROJECTOR_KEY.match(k)] if m and m['kind'] == 'fc'
    })
    if fcs:
        info['projector_dims'] = [
            int(state_dict[f'projector.fc{fcs[0]}.weight'].shape[1])
        ] + [int(state_dict[f'projector.fc{k}.weight'].shape[0]) for k in fcs]
        info['projector_bias'] = f'projector.fc{fcs[0]}.bias' in state_dict
    return info


def check_decoder(state_dict: StateDict, what: str) -> None:
    keys = [k for k in state_dict if k.startswith('neck.')]
    if not keys:
        return
    required = [
        'neck.decoder_embed.weight', 'neck.mask_token',
        'neck.decoder_pos_embed', 'neck.ln1.weight', 'neck.decoder_pred.weight'
    ]
    missing = [k for k in required if k not in state_dict]
    if missing:
        raise CheckpointFormatError(
            f'{what}: the MAE decoder is incomplete, missing {missing}')
    _check_blocks(keys, 'neck.decoder_blocks.', what)
