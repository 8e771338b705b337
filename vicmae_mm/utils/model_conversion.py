# Copyright (c) vicmae_mm contributors. All rights reserved.
"""Key mappings between the three layouts a ViC-MAE checkpoint comes in.

* **official**: the released ViC-MAE ``.pth`` — a dict whose ``model``
  entry uses timm names (``patch_embed.proj``, ``blocks.{i}.norm1``,
  ``norm``, ``decoder_blocks.{i}.mlp.fc1``, ``decoder_norm``, the projector
  as an ``nn.Sequential`` ``projector.{0,1,3,4,6}``).
* **vicmae_mm**: an mmengine checkpoint whose ``state_dict`` holds
  ``backbone.*`` in mmpretrain ``VisionTransformer`` names, ``neck.*`` in
  mmpretrain ``MAEPretrainDecoder`` names and ``projector.fc{k}/bn{k}``
  (mmpretrain ``NonLinearNeck``), see ``docs/architecture.md``.
* **timm**: the state dict of ``timm.models.vision_transformer.
  VisionTransformer`` (encoder only); its names are the official encoder's.

Every function is a pure key rename (tensors are shared, never changed), so
a conversion followed by its inverse returns the identical state dict. Keys
that no rule understands are never dropped silently: they raise
:class:`CheckpointFormatError` naming them. The tools in
``tools/model_converters/`` are thin command-line wrappers around this
module.
"""
import argparse
import os
import os.path as osp
import re
import sys
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple

import torch

from .checkpoint import (UnsafeCheckpointError, safe_torch_load,
                         trust_checkpoint)

StateDict = Dict[str, torch.Tensor]


class CheckpointFormatError(ValueError):
    """A checkpoint does not have the layout a converter expects."""


# (timm / official sub-module, mmpretrain sub-module) inside one transformer
# block; the encoder's and the MAE decoder's blocks share it.
_BLOCK_PARTS = (
    ('norm1', 'ln1'),
    ('attn.qkv', 'attn.qkv'),
    ('attn.proj', 'attn.proj'),
    ('norm2', 'ln2'),
    ('mlp.fc1', 'ffn.layers.0.0'),
    ('mlp.fc2', 'ffn.layers.1'),
)

# ``{i}``: block index, ``{p}``: ``weight`` or ``bias``.
ENCODER_RULES: Tuple[Tuple[str, str], ...] = (
    ('cls_token', 'backbone.cls_token'),
    ('pos_embed', 'backbone.pos_embed'),
    ('patch_embed.proj.{p}', 'backbone.patch_embed.projection.{p}'),
    *((f'blocks.{{i}}.{a}.{{p}}', f'backbone.layers.{{i}}.{b}.{{p}}')
      for a, b in _BLOCK_PARTS),
    ('norm.{p}', 'backbone.ln1.{p}'),
)

DECODER_RULES: Tuple[Tuple[str, str], ...] = (
    ('decoder_embed.{p}', 'neck.decoder_embed.{p}'),
    ('mask_token', 'neck.mask_token'),
    ('decoder_pos_embed', 'neck.decoder_pos_embed'),
    *((f'decoder_blocks.{{i}}.{a}.{{p}}',
       f'neck.decoder_blocks.{{i}}.{b}.{{p}}') for a, b in _BLOCK_PARTS),
    ('decoder_norm.{p}', 'neck.ln1.{p}'),
    ('decoder_pred.{p}', 'neck.decoder_pred.{p}'),
)

# Projector: official ``nn.Sequential(Linear, BN, ReLU, Linear, BN, ReLU,
# Linear)`` = index 3k -> ``fc{k}``, 3k+1 -> ``bn{k}`` (ReLUs hold nothing).
_LINEAR_PARAMS = ('weight', 'bias')
_BN_PARAMS = ('weight', 'bias', 'running_mean', 'running_var',
              'num_batches_tracked')
_OFFICIAL_PROJ = re.compile(r'^projector\.(?P<j>\d+)\.(?P<q>\w+)$')
_OURS_PROJ = re.compile(r'^projector\.(?P<kind>fc|bn)(?P<k>\d+)\.(?P<q>\w+)$')

# Prefixes of a vicmae_mm pretraining checkpoint that are not the encoder.
PRETRAIN_ONLY_PREFIXES = ('neck.', 'projector.', 'pool_neck.')


def _pattern(template: str) -> 're.Pattern':
    regex = re.escape(template)
    regex = regex.replace(re.escape('{i}'), r'(?P<i>\d+)')
    regex = regex.replace(re.escape('{p}'), r'(?P<p>weight|bias)')
    return re.compile(f'^{regex}$')


class _Renamer:
    """Rename keys with ``(source template, target template)`` rules."""

    def __init__(self,
                 rules: Sequence[Tuple[str, str]],
                 reverse: bool = False) -> None:
        self.rules = [(dst, src) if reverse else (src, dst)
                      for src, dst in rules]
        self.patterns = [(_pattern(src), src, dst) for src, dst in self.rules]

    def __call__(self, key: str) -> Optional[Tuple[str, str]]:
        """Return ``(new key, rule label)`` or None if no rule matches."""
        for regex, src, dst in self.patterns:
            match = regex.match(key)
            if match:
                return dst.format(**match.groupdict()), f'{src} -> {dst}'
        return None


@dataclass
class ConversionReport:
    """What a conversion did, for the tools to print.

    Attributes:
        rules (dict): ``'source rule -> target rule'`` to number of keys.
        mapped (list): ``(source key, target key)`` for every key.
        dropped (list): Source keys intentionally left out (with reason).
        notes (list): Remarks for the user.
    """
    rules: Dict[str, int] = field(default_factory=dict)
    mapped: List[Tuple[str, str]] = field(default_factory=list)
    dropped: List[str] = field(default_factory=list)
    notes: List[str] = field(default_factory=list)

    def add(self, src: str, dst: str, rule: str) -> None:
        self.mapped.append((src, dst))
        self.rules[rule] = self.rules.get(rule, 0) + 1

    def lines(self, verbose: bool = False) -> List[str]:
        """Human-readable summary (one rule per line, or one key)."""
        out = [f'mapped {len(self.mapped)} tensors:']
        if verbose:
            out += [f'  {s} -> {d}' for s, d in self.mapped]
        else:
            width = max((len(r) for r in self.rules), default=0)
            out += [f'  {r:<{width}}  x{n}' for r, n in self.rules.items()]
        if self.dropped:
            out.append(f'left out {len(self.dropped)} tensors:')
            out += [f'  {d}' for d in self.dropped]
        out += [f'note: {n}' for n in self.notes]
        return out


def _unknown_error(what: str, keys: Sequence[str], hint: str) -> None:
    shown = ', '.join(sorted(keys)[:10])
    more = f' (and {len(keys) - 10} more)' if len(keys) > 10 else ''
    raise CheckpointFormatError(
        f'{what}: {len(keys)} unrecognised key(s): {shown}{more}. {hint}')


def _rename_all(state_dict: StateDict,
                rename: Callable[[str], Optional[Tuple[str, str]]],
                report: ConversionReport) -> Tuple[StateDict, List[str]]:
    """Apply ``rename`` to every key, recording each mapping in ``report``.

    Returns:
        tuple: The renamed state dict (same tensors, same order) and the
        keys ``rename`` did not understand.
    """
    out: StateDict = OrderedDict()
    unknown = []
    for key, value in state_dict.items():
        hit = rename(key)
        if hit is None:
            unknown.append(key)
            continue
        out[hit[0]] = value
        report.add(key, hit[0], hit[1])
    return out, unknown


def _check_tensors(state_dict: StateDict, what: str) -> None:
    bad = [k for k, v in state_dict.items() if not torch.is_tensor(v)]
    if bad:
        _unknown_error(what, bad, 'Every entry of a state dict must be a '
                       'tensor.')


def _strip_module_prefix(state_dict: StateDict,
                         report: ConversionReport) -> StateDict:
    """Remove the ``module.`` prefix of checkpoints saved from DDP."""
    if state_dict and all(k.startswith('module.') for k in state_dict):
        report.notes.append('removed the DDP prefix "module." from every key')
        return OrderedDict((k[7:], v) for k, v in state_dict.items())
    return state_dict


# --------------------------------------------------------------------------
# Structure checks and a summary of the architecture found in the weights.
# --------------------------------------------------------------------------
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
    expected = [f'{b}.{p}' for _, b in _BLOCK_PARTS for p in _LINEAR_PARAMS]
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
        for m in [_OURS_PROJ.match(k)] if m and m['kind'] == 'fc'
    })
    if fcs:
        info['projector_dims'] = [
            int(state_dict[f'projector.fc{fcs[0]}.weight'].shape[1])
        ] + [int(state_dict[f'projector.fc{k}.weight'].shape[0]) for k in fcs]
        info['projector_bias'] = f'projector.fc{fcs[0]}.bias' in state_dict
    return info


def _check_decoder(state_dict: StateDict, what: str) -> None:
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


# --------------------------------------------------------------------------
# official <-> vicmae_mm
# --------------------------------------------------------------------------
def _official_projector_key(key: str) -> Optional[Tuple[str, str]]:
    match = _OFFICIAL_PROJ.match(key)
    if not match:
        return None
    j, q = int(match['j']), match['q']
    k, r = divmod(j, 3)
    if r == 0 and q in _LINEAR_PARAMS:
        return f'projector.fc{k}.{q}', 'projector.{3k} (Linear) -> ' \
            'projector.fc{k}'
    if r == 1 and q in _BN_PARAMS:
        return f'projector.bn{k}.{q}', 'projector.{3k+1} (BatchNorm) -> ' \
            'projector.bn{k}'
    return None


def _vicmae_projector_key(key: str) -> Optional[Tuple[str, str]]:
    match = _OURS_PROJ.match(key)
    if not match:
        return None
    k, q = int(match['k']), match['q']
    if match['kind'] == 'fc' and q in _LINEAR_PARAMS:
        return f'projector.{3 * k}.{q}', 'projector.fc{k} -> ' \
            'projector.{3k} (Linear)'
    if match['kind'] == 'bn' and q in _BN_PARAMS:
        return f'projector.{3 * k + 1}.{q}', 'projector.bn{k} -> ' \
            'projector.{3k+1} (BatchNorm)'
    return None


_TO_VICMAE = _Renamer(ENCODER_RULES + DECODER_RULES)
_TO_OFFICIAL = _Renamer(ENCODER_RULES + DECODER_RULES, reverse=True)


def official_to_vicmae(
        state_dict: StateDict,
        what: str = 'checkpoint') -> Tuple[StateDict, ConversionReport]:
    """Rename an official (timm-named) ViC-MAE state dict to vicmae_mm.

    Args:
        state_dict (dict): The ``model`` entry of an official checkpoint.
        what (str): Name of the checkpoint, for messages.

    Returns:
        tuple: The vicmae_mm state dict (``backbone.``, ``neck.``,
        ``projector.``) and a :class:`ConversionReport`.

    Raises:
        CheckpointFormatError: On any key no rule understands, or an
            incomplete encoder.
    """
    report = ConversionReport()
    _check_tensors(state_dict, what)
    state_dict = _strip_module_prefix(state_dict, report)
    out, unknown = _rename_all(
        state_dict, lambda k: _TO_VICMAE(k) or _official_projector_key(k),
        report)
    if unknown:
        _unknown_error(
            f'{what} is not an official ViC-MAE pretraining state dict',
            unknown, 'Expected timm names (patch_embed.proj, blocks.{i}.*, '
            'norm, decoder_*, projector.{0,1,3,4,6}); a fine-tuned '
            'classifier (head, fc_norm) or another model is not supported.')
    check_vicmae_encoder(out, what)
    _check_decoder(out, what)
    if not any(k.startswith('neck.') for k in out):
        report.notes.append('no MAE decoder in the source: the result '
                            'serves downstream tasks but cannot resume '
                            'pretraining')
    if not any(k.startswith('projector.') for k in out):
        report.notes.append('no projector in the source')
    elif 'projector.fc0.bias' not in out:
        report.notes.append('the projector Linears have no bias: set '
                            'with_bias=False, with_last_bias=False in the '
                            'projector config to load it')
    return out, report


def vicmae_to_official(
        state_dict: StateDict,
        what: str = 'checkpoint') -> Tuple[StateDict, ConversionReport]:
    """Inverse of :func:`official_to_vicmae`.

    Args:
        state_dict (dict): A vicmae_mm pretraining state dict.
        what (str): Name of the checkpoint, for messages.

    Returns:
        tuple: The official-layout state dict and a report.

    Raises:
        CheckpointFormatError: On keys with no place in the official layout
            (e.g. ``pool_neck.*`` of GeM/attention pooling).
    """
    report = ConversionReport()
    _check_tensors(state_dict, what)
    check_vicmae_encoder(state_dict, what)
    out, unknown = _rename_all(
        state_dict, lambda k: _TO_OFFICIAL(k) or _vicmae_projector_key(k),
        report)
    if unknown:
        _unknown_error(
            f'{what} has no official ViC-MAE equivalent', unknown,
            'The official model holds the encoder, the MAE decoder and the '
            'projector only (mean pooling, no pooling parameters).')
    return out, report


# --------------------------------------------------------------------------
# vicmae_mm -> timm
# --------------------------------------------------------------------------
_ENCODER_TO_TIMM = _Renamer(ENCODER_RULES, reverse=True)


def vicmae_to_timm(
        state_dict: StateDict,
        what: str = 'checkpoint') -> Tuple[StateDict, ConversionReport]:
    """Encoder of a vicmae_mm checkpoint as a timm ``VisionTransformer``.

    The result loads strictly into
    ``timm.models.vision_transformer.VisionTransformer(num_classes=0, ...)``
    with ``class_token=True`` and the final ``norm`` kept (timm's default
    ``global_pool='token'``, or ``global_pool='avg', fc_norm=False`` for
    ViC-MAE's mean-pooled feature).

    Args:
        state_dict (dict): vicmae_mm state dict (``backbone.*`` plus
            optionally ``neck.*``/``projector.*``/``pool_neck.*``, which
            are left out), or a backbone extracted without its prefix.
        what (str): Name of the checkpoint, for messages.

    Returns:
        tuple: The timm state dict and a report.
    """
    report = ConversionReport()
    _check_tensors(state_dict, what)
    if not any(k.startswith('backbone.') for k in state_dict) and \
            'patch_embed.projection.weight' in state_dict:
        report.notes.append('keys have no "backbone." prefix: read as an '
                            'extracted encoder')
        state_dict = OrderedDict(
            (f'backbone.{k}', v) for k, v in state_dict.items())
    check_vicmae_encoder(state_dict, what)
    # the rules only match backbone.* keys: anything else that is not a
    # pretraining head is unknown
    out, unknown = _rename_all(
        OrderedDict((k, v) for k, v in state_dict.items()
                    if not k.startswith(PRETRAIN_ONLY_PREFIXES)),
        _ENCODER_TO_TIMM, report)
    report.dropped += [
        f'{k} (pretraining only)' for k in state_dict
        if k.startswith(PRETRAIN_ONLY_PREFIXES)
    ]
    if unknown:
        _unknown_error(
            f'{what} is not a ViC-MAE pretraining encoder', unknown,
            'Only backbone.* in mmpretrain VisionTransformer names (no ln2 / '
            'head of a fine-tuned classifier) can be exported to timm.')
    if len(report.dropped) > 8:
        prefixes = sorted({d.split('.')[0] for d in report.dropped})
        report.notes.append(f'left out {len(report.dropped)} pretraining-only '
                            f'tensors under {prefixes}')
        report.dropped = []
    return out, report


def timm_kwargs(info: Dict[str, Any],
                img_size: Optional[int] = None,
                num_heads: Optional[int] = None) -> Dict[str, Any]:
    """``VisionTransformer`` keyword arguments matching converted weights.

    Args:
        info (dict): From :func:`check_vicmae_encoder`.
        img_size (int, optional): Input size; inferred from the position
            embedding when omitted.
        num_heads (int, optional): Attention heads (not stored in the
            weights); ``embed_dims // 64`` when omitted, as for ViT-S/B/L/H.

    Returns:
        dict: Arguments for the mean-pooled ViC-MAE feature
        (``global_pool='avg', fc_norm=False``).
    """
    grid = int(round(info['num_patches']**0.5))
    if grid * grid != info['num_patches']:
        raise CheckpointFormatError(
            f'position embedding has {info["num_patches"]} patch positions, '
            'not a square grid; pass img_size explicitly')
    return dict(img_size=img_size or grid * info['patch_size'],
                patch_size=info['patch_size'],
                embed_dim=info['embed_dims'],
                depth=info['num_layers'],
                num_heads=num_heads or max(info['embed_dims'] // 64, 1),
                mlp_ratio=info['feedforward_channels'] / info['embed_dims'],
                num_classes=0,
                global_pool='avg',
                fc_norm=False)


# --------------------------------------------------------------------------
# Backbone extraction
# --------------------------------------------------------------------------
def extract_backbone(
        state_dict: StateDict,
        strip_prefix: bool = False,
        what: str = 'checkpoint') -> Tuple[StateDict, ConversionReport]:
    """Keep the ``backbone.*`` tensors of a vicmae_mm state dict.

    Args:
        state_dict (dict): vicmae_mm state dict.
        strip_prefix (bool): Drop ``backbone.`` from the keys (for code that
            loads a bare ``VisionTransformer``). Keep it (default) so
            downstream configs load the file with ``prefix='backbone.'``.
        what (str): Name of the checkpoint, for messages.

    Returns:
        tuple: The encoder state dict (tensors cloned, so the saved file
        holds only them) and a report.
    """
    report = ConversionReport()
    _check_tensors(state_dict, what)
    if not any(k.startswith('backbone.') for k in state_dict):
        official = {'patch_embed.proj.weight', 'model'} & set(state_dict)
        hint = (' It looks like an official ViC-MAE checkpoint: convert it '
                'with official_to_vicmae.py first.' if official else '')
        raise CheckpointFormatError(
            f'{what} has no "backbone." weights.{hint}')
    out: StateDict = OrderedDict()
    for key, value in state_dict.items():
        if key.startswith('backbone.'):
            new = key[len('backbone.'):] if strip_prefix else key
            out[new] = value.detach().clone().contiguous()
            report.add(
                key, new,
                'backbone.* -> ' + ('*' if strip_prefix else 'backbone.*'))
    dropped = sorted(
        {k.split('.')[0]
         for k in state_dict if not k.startswith('backbone.')})
    if dropped:
        report.notes.append(f'left out everything under {dropped}')
    return out, report


# --------------------------------------------------------------------------
# Files
# --------------------------------------------------------------------------
def load_checkpoint_file(path: str, trust: bool = False) -> Any:
    """Load a checkpoint weights-only (see ``safe_torch_load``).

    Args:
        path (str): Local file.
        trust (bool): Opt in to full unpickling of this file (only for a
            source you trust, e.g. a released checkpoint storing its
            ``argparse.Namespace``).

    Returns:
        The loaded object.
    """
    if trust:
        trust_checkpoint(path)
    return safe_torch_load(path, map_location='cpu')


def official_state_dict(checkpoint: Any,
                        what: str) -> Tuple[StateDict, List[str]]:
    """The ``model`` dict of an official checkpoint (or a bare state dict).

    Returns:
        tuple: The state dict and the other top-level entries (ignored).
    """
    if not isinstance(checkpoint, dict):
        raise CheckpointFormatError(
            f'{what} holds a {type(checkpoint).__name__}, not a dict')
    if 'model' in checkpoint and isinstance(checkpoint['model'], dict):
        return checkpoint['model'], sorted(k for k in checkpoint
                                           if k != 'model')
    if 'state_dict' in checkpoint and isinstance(checkpoint['state_dict'],
                                                 dict):
        keys = checkpoint['state_dict']
        hint = (' It is already a vicmae_mm checkpoint.' if any(
            k.startswith('backbone.') for k in keys) else '')
        raise CheckpointFormatError(
            f'{what} has a "state_dict" entry, not the official "model" '
            f'entry.{hint}')
    if 'patch_embed.proj.weight' in checkpoint:
        return checkpoint, []
    raise CheckpointFormatError(
        f'{what} is not an official ViC-MAE checkpoint: expected a dict '
        f'with a "model" state dict, found entries {sorted(checkpoint)[:10]}')


def vicmae_state_dict(checkpoint: Any, what: str) -> StateDict:
    """The ``state_dict`` of a vicmae_mm checkpoint (or a bare one)."""
    if not isinstance(checkpoint, dict):
        raise CheckpointFormatError(
            f'{what} holds a {type(checkpoint).__name__}, not a dict')
    if 'state_dict' in checkpoint and isinstance(checkpoint['state_dict'],
                                                 dict):
        return checkpoint['state_dict']
    if 'model' in checkpoint:
        raise CheckpointFormatError(
            f'{what} has a "model" entry: it looks like an official ViC-MAE '
            'checkpoint; convert it with official_to_vicmae.py first')
    if checkpoint and all(torch.is_tensor(v) for v in checkpoint.values()):
        return checkpoint
    raise CheckpointFormatError(
        f'{what} is not a vicmae_mm checkpoint: expected a "state_dict" '
        f'entry, found entries {sorted(checkpoint)[:10]}')


def save_checkpoint_file(obj: Any, path: str) -> None:
    """``torch.save`` through a temporary file, so a crash never leaves a
    truncated checkpoint behind."""
    folder = osp.dirname(osp.abspath(path))
    os.makedirs(folder, exist_ok=True)
    tmp = f'{path}.tmp{os.getpid()}'
    try:
        torch.save(obj, tmp)
        os.replace(tmp, path)
    finally:
        if osp.exists(tmp):
            os.remove(tmp)


# --------------------------------------------------------------------------
# Command-line tools (tools/model_converters/)
# --------------------------------------------------------------------------
@dataclass
class ConverterOutput:
    """What a converter tool writes to DST and prints.

    Attributes:
        checkpoint: The object saved to DST.
        report (ConversionReport): The key mapping.
        header (str): First line printed (what became what).
        before_report (list): Lines printed between header and report.
        after_report (list): Lines printed after the report.
    """
    checkpoint: Any
    report: ConversionReport
    header: str
    before_report: List[str] = field(default_factory=list)
    after_report: List[str] = field(default_factory=list)


_TRUST_HELP = 'allow full unpickling of SRC (only for a source you trust)'


def converter_arg_parser(
        description: str,
        src_help: str,
        dst_help: str,
        options: Sequence[Tuple[str, Dict[str, Any]]] = (),
        trust_help: str = _TRUST_HELP,
        verbose_help: str = 'print every key mapping'
) -> argparse.ArgumentParser:
    """The arguments every converter takes: ``src dst [tool options]
    [--trust-checkpoint] [--verbose]``.

    Args:
        description (str): The tool's description.
        src_help (str): Help of the ``src`` argument.
        dst_help (str): Help of the ``dst`` argument.
        options (sequence): The tool's own ``(flag, add_argument kwargs)``,
            listed between ``dst`` and ``--trust-checkpoint``.
        trust_help (str): Help of ``--trust-checkpoint``.
        verbose_help (str): Help of ``--verbose``.

    Returns:
        argparse.ArgumentParser: The parser.
    """
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument('src', help=src_help)
    parser.add_argument('dst', help=dst_help)
    for flag, kwargs in options:
        parser.add_argument(flag, **kwargs)
    parser.add_argument('--trust-checkpoint',
                        action='store_true',
                        help=trust_help)
    parser.add_argument('--verbose', action='store_true', help=verbose_help)
    return parser


def run_converter_cli(
        name: str, args: argparse.Namespace,
        convert: Callable[[Any, argparse.Namespace], ConverterOutput]) -> int:
    """Load SRC, convert it, save DST and print what was mapped.

    Loading is weights-only unless ``args.trust_checkpoint``. A bad or
    unsafe checkpoint, a missing file or DST equal to SRC prints
    ``<name>: error: ...`` to stderr and writes nothing.

    Args:
        name (str): The tool's name, for messages.
        args (argparse.Namespace): From :func:`converter_arg_parser`.
        convert (callable): ``(loaded checkpoint, args) ->``
            :class:`ConverterOutput`; raises :class:`CheckpointFormatError`
            on a checkpoint it cannot convert.

    Returns:
        int: The exit code: 0 on success, 1 on error.
    """
    if osp.realpath(args.src) == osp.realpath(args.dst):
        print(f'{name}: error: dst must differ from src', file=sys.stderr)
        return 1
    try:
        checkpoint = load_checkpoint_file(args.src, args.trust_checkpoint)
        result = convert(checkpoint, args)
    except (CheckpointFormatError, UnsafeCheckpointError,
            FileNotFoundError) as err:
        print(f'{name}: error: {err}', file=sys.stderr)
        return 1
    save_checkpoint_file(result.checkpoint, args.dst)

    print(result.header)
    for line in (result.before_report + result.report.lines(args.verbose) +
                 result.after_report):
        print(line)
    return 0


def describe_arch(arch: Dict[str, Any]) -> str:
    """The line the tools print about the architecture they found."""
    return 'architecture found in the weights: ' + ', '.join(
        f'{k}={v}' for k, v in arch.items())
