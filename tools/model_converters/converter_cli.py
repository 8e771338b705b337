# Copyright (c) vicmae_mm contributors. All rights reserved.
"""What the converter tools share: ``src dst [options] [--trust-checkpoint]
[--verbose]`` arguments, weights-only loading, the checkpoint layouts they
accept, an atomic save and the printed report. The key rules themselves
are :mod:`key_rules` beside this file."""
import argparse
import os.path as osp
import sys
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, List, Sequence, Tuple

import torch
from checkpoint_layout import CheckpointFormatError, StateDict
from key_rules import ConversionReport
from mmengine.runner.checkpoint import save_checkpoint

import vicmae_mm  # noqa: F401  (registers the atomic_local file backend)
from vicmae_mm.utils import (UnsafeCheckpointError, safe_torch_load,
                             trust_checkpoint)


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


def describe_arch(arch: Dict[str, Any]) -> str:
    """The line the tools print about the architecture they found."""
    return 'architecture found in the weights: ' + ', '.join(
        f'{k}={v}' for k, v in arch.items())


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


def report_lines(report: ConversionReport, verbose: bool = False) -> List[str]:
    """What a conversion did, one rule per line (``verbose``: one key)."""
    out = [f'mapped {len(report.mapped)} tensors:']
    if verbose:
        out += [f'  {s} -> {d}' for s, d in report.mapped]
    else:
        width = max((len(r) for r in report.rules), default=0)
        out += [f'  {r:<{width}}  x{n}' for r, n in report.rules.items()]
    if report.dropped:
        out.append(f'left out {len(report.dropped)} tensors:')
        out += [f'  {d}' for d in report.dropped]
    return out + [f'note: {n}' for n in report.notes]


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

    Loading is weights-only (``safe_torch_load``) unless
    ``args.trust_checkpoint``; DST is written through the ``atomic_local``
    file backend, so a crash never leaves a truncated file. A bad or unsafe
    checkpoint, a missing file or DST equal to SRC prints
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
        if args.trust_checkpoint:
            trust_checkpoint(args.src)
        checkpoint = safe_torch_load(args.src, map_location='cpu')
        result = convert(checkpoint, args)
    except (CheckpointFormatError, UnsafeCheckpointError,
            FileNotFoundError) as err:
        print(f'{name}: error: {err}', file=sys.stderr)
        return 1
    save_checkpoint(result.checkpoint, osp.abspath(args.dst),
                    backend_args=dict(backend='atomic_local'))

    print(result.header)
    lines = report_lines(result.report, args.verbose)
    for line in result.before_report + lines + result.after_report:
        print(line)
    return 0
