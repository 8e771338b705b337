# Copyright (c) vicmae_mm contributors. All rights reserved.
"""Key rules between the official, vicmae_mm and timm checkpoint layouts
(docs/benchmarks/mmpretrain.md); ``what`` names the checkpoint in errors."""
import re
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Callable, Dict, List, Optional, Sequence, Tuple

import torch
from checkpoint_layout import (BLOCK_PARTS, LINEAR_PARAMS,
                               PRETRAIN_ONLY_PREFIXES, VICMAE_PROJECTOR_KEY,
                               CheckpointFormatError, StateDict, check_decoder,
                               check_vicmae_encoder)

# ``{i}``: block index, ``{p}``: ``weight`` or ``bias``.
ENCODER_RULES: Tuple[Tuple[str, str], ...] = (
    ('cls_token', 'backbone.cls_token'),
    ('pos_embed', 'backbone.pos_embed'),
    ('patch_embed.proj.{p}', 'backbone.patch_embed.projection.{p}'),
    *((f'blocks.{{i}}.{a}.{{p}}', f'backbone.layers.{{i}}.{b}.{{p}}')
      for a, b in BLOCK_PARTS),
    ('norm.{p}', 'backbone.ln1.{p}'),
)
DECODER_RULES: Tuple[Tuple[str, str], ...] = (
    ('decoder_embed.{p}', 'neck.decoder_embed.{p}'),
    ('mask_token', 'neck.mask_token'),
    ('decoder_pos_embed', 'neck.decoder_pos_embed'),
    *((f'decoder_blocks.{{i}}.{a}.{{p}}',
       f'neck.decoder_blocks.{{i}}.{b}.{{p}}') for a, b in BLOCK_PARTS),
    ('decoder_norm.{p}', 'neck.ln1.{p}'),
    ('decoder_pred.{p}', 'neck.decoder_pred.{p}'),
)

# Projector: official ``nn.Sequential(Linear, BN, ReLU, Linear, BN, ReLU,
# Linear)`` = index 3k -> ``fc{k}``, 3k+1 -> ``bn{k}`` (ReLUs hold nothing).
_BN_PARAMS = ('weight', 'bias', 'running_mean', 'running_var',
              'num_batches_tracked')
_OFFICIAL_PROJ = re.compile(r'^projector\.(?P<j>\d+)\.(?P<q>\w+)$')
Rename = Callable[[str], Optional[Tuple[str, str]]]


class _Renamer:
    """``(source, target)`` template rules; a call: ``(key, rule)`` or None."""

    def __init__(self,
                 rules: Sequence[Tuple[str, str]],
                 reverse: bool = False) -> None:
        self.patterns = []
        for src, dst in rules:
            src, dst = (dst, src) if reverse else (src, dst)
            regex = re.escape(src).replace(re.escape('{i}'), r'(?P<i>\d+)')
            regex = regex.replace(re.escape('{p}'), r'(?P<p>weight|bias)')
            self.patterns.append((re.compile(f'^{regex}$'), src, dst))

    def __call__(self, key: str) -> Optional[Tuple[str, str]]:
        for regex, src, dst in self.patterns:
            match = regex.match(key)
            if match:
                return dst.format(**match.groupdict()), f'{src} -> {dst}'
        return None


@dataclass
class ConversionReport:
    """What a conversion did (the tools print it).

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


def _unknown_error(what: str, keys: Sequence[str], hint: str) -> None:
    shown = ', '.join(sorted(keys)[:10])
    more = f' (and {len(keys) - 10} more)' if len(keys) > 10 else ''
    raise CheckpointFormatError(
        f'{what}: {len(keys)} unrecognised key(s): {shown}{more}. {hint}')


def _rename_all(state_dict: StateDict, rename: Rename,
                report: ConversionReport) -> Tuple[StateDict, List[str]]:
    """Rename every key, in order; also return the keys ``rename`` missed."""
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


def _new_report(state_dict: StateDict, what: str) -> ConversionReport:
    bad = [k for k, v in state_dict.items() if not torch.is_tensor(v)]
    if bad:
        _unknown_error(what, bad, 'Every entry of a state dict must be a '
                       'tensor.')
    return ConversionReport()


def _official_projector_key(key: str) -> Optional[Tuple[str, str]]:
    match = _OFFICIAL_PROJ.match(key)
    if not match:
        return None
    k, r = divmod(int(match['j']), 3)
    q = match['q']
    if r == 0 and q in LINEAR_PARAMS:
        return f'projector.fc{k}.{q}', 'projector.{3k} (Linear) -> ' \
            'projector.fc{k}'
    if r == 1 and q in _BN_PARAMS:
        return f'projector.bn{k}.{q}', 'projector.{3k+1} (BatchNorm) -> ' \
            'projector.bn{k}'
    return None


def _vicmae_projector_key(key: str) -> Optional[Tuple[str, str]]:
    match = VICMAE_PROJECTOR_KEY.match(key)
    if not match:
        return None
    k, q = int(match['k']), match['q']
    if match['kind'] == 'fc' and q in LINEAR_PARAMS:
        return f'projector.{3 * k}.{q}', 'projector.fc{k} -> ' \
            'projector.{3k} (Linear)'
    if match['kind'] == 'bn' and q in _BN_PARAMS:
        return f'projector.{3 * k + 1}.{q}', 'projector.bn{k} -> ' \
            'projector.{3k+1} (BatchNorm)'
    return None


_TO_VICMAE = _Renamer(ENCODER_RULES + DECODER_RULES)
_TO_OFFICIAL = _Renamer(ENCODER_RULES + DECODER_RULES, reverse=True)
_ENCODER_TO_TIMM = _Renamer(ENCODER_RULES, reverse=True)


def official_to_vicmae(
        state_dict: StateDict,
        what: str = 'checkpoint') -> Tuple[StateDict, ConversionReport]:
    """Rename an official (timm-named) ViC-MAE state dict to vicmae_mm.

    Args:
        state_dict (dict): Official ``model`` entry (DDP ``module.`` removed).
    """
    report = _new_report(state_dict, what)
    if state_dict and all(k.startswith('module.') for k in state_dict):
        report.notes.append('removed the DDP prefix "module." from every key')
        state_dict = OrderedDict((k[7:], v) for k, v in state_dict.items())
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
    check_decoder(out, what)
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
    """Inverse of :func:`official_to_vicmae`; ``pool_neck.*`` keys raise."""
    report = _new_report(state_dict, what)
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


def vicmae_to_timm(
        state_dict: StateDict,
        what: str = 'checkpoint') -> Tuple[StateDict, ConversionReport]:
    """Encoder of a vicmae_mm checkpoint as a timm ``VisionTransformer``.

    It loads strictly into ``VisionTransformer(num_classes=0)``
    (``global_pool='avg', fc_norm=False``: ViC-MAE's mean-pooled feature).

    Args:
        state_dict (dict): vicmae_mm state dict (pretraining heads are left
            out), or an encoder extracted without its ``backbone.`` prefix.
    """
    report = _new_report(state_dict, what)
    if not any(k.startswith('backbone.') for k in state_dict) and \
            'patch_embed.projection.weight' in state_dict:
        report.notes.append('keys have no "backbone." prefix: read as an '
                            'extracted encoder')
        state_dict = OrderedDict(
            (f'backbone.{k}', v) for k, v in state_dict.items())
    check_vicmae_encoder(state_dict, what)
    # the rules match backbone.* only: all else but the heads is unknown
    heads = [k for k in state_dict if k.startswith(PRETRAIN_ONLY_PREFIXES)]
    out, unknown = _rename_all(
        OrderedDict((k, v) for k, v in state_dict.items() if k not in heads),
        _ENCODER_TO_TIMM, report)
    if unknown:
        _unknown_error(
            f'{what} is not a ViC-MAE pretraining encoder', unknown,
            'Only backbone.* in mmpretrain VisionTransformer names (no ln2 / '
            'head of a fine-tuned classifier) can be exported to timm.')
    if len(heads) > 8:
        prefixes = sorted({k.split('.')[0] for k in heads})
        report.notes.append(f'left out {len(heads)} pretraining-only '
                            f'tensors under {prefixes}')
    else:
        report.dropped += [f'{k} (pretraining only)' for k in heads]
    return out, report


def extract_backbone(
        state_dict: StateDict,
        strip_prefix: bool = False,
        what: str = 'checkpoint') -> Tuple[StateDict, ConversionReport]:
    """The ``backbone.*`` tensors, cloned so a saved file holds only them.

    Args:
        strip_prefix (bool): Drop ``backbone.`` (downstream configs expect it).
    """
    report = _new_report(state_dict, what)
    if not any(k.startswith('backbone.') for k in state_dict):
        official = {'patch_embed.proj.weight', 'model'} & set(state_dict)
        hint = (' It looks like an official ViC-MAE checkpoint: convert it '
                'with official_to_vicmae.py first.' if official else '')
        raise CheckpointFormatError(
            f'{what} has no "backbone." weights.{hint}')
    out: StateDict = OrderedDict()
    rule = 'backbone.* -> ' + ('*' if strip_prefix else 'backbone.*')
    for key, value in state_dict.items():
        if key.startswith('backbone.'):
            new = key[len('backbone.'):] if strip_prefix else key
            out[new] = value.detach().clone().contiguous()
            report.add(key, new, rule)
    dropped = sorted(
        {k.split('.')[0]
         for k in state_dict if not k.startswith('backbone.')})
    if dropped:
        report.notes.append(f'left out everything under {dropped}')
    return out, report
