# Copyright (c) vicmae_mm contributors. All rights reserved.
"""Keep only the encoder of a vicmae_mm checkpoint.

Drops the optimizer, message hub, decoder, pooling and projector, and
writes ``dict(meta=..., state_dict=...)`` holding tensors only, so the file
is small and always loads weights-only. Keys keep their ``backbone.``
prefix unless ``--strip-prefix``: the downstream configs load it with
``model.backbone.init_cfg.checkpoint=DST`` exactly like a full checkpoint.

It is also the way to make a checkpoint written by plain mmengine (whose
message hub needs code to unpickle) safe to share: run it once with
``--trust-checkpoint`` on a file you trust.

Example::

    python tools/model_converters/extract_backbone.py \
        work_dirs/pretrain_vitl/epoch_800.pth checkpoints/vicmae_vitl_enc.pth
"""
import argparse
import os.path as osp
import sys
from typing import Any, List, Optional

from checkpoint_layout import check_vicmae_encoder
from converter_cli import (ConverterOutput, converter_arg_parser,
                           describe_arch, run_converter_cli, vicmae_state_dict)
from key_rules import extract_backbone


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    parser = converter_arg_parser(
        description='Extract the encoder (backbone.*) of a vicmae_mm '
        'checkpoint',
        src_help='vicmae_mm checkpoint',
        dst_help='where to write the encoder weights',
        options=[('--strip-prefix',
                  dict(action='store_true',
                       help='drop "backbone." from the keys (then load '
                       'without prefix)'))],
        verbose_help='print every key')
    return parser.parse_args(argv)


def convert(checkpoint: Any, args: argparse.Namespace) -> ConverterOutput:
    """The encoder of ``checkpoint``, with the architecture in ``meta``."""
    source = vicmae_state_dict(checkpoint, args.src)
    arch = check_vicmae_encoder(source, args.src)
    state_dict, report = extract_backbone(source, args.strip_prefix, args.src)
    meta = dict(converter='extract_backbone',
                source=osp.basename(args.src),
                prefix='' if args.strip_prefix else 'backbone.',
                arch=arch)
    return ConverterOutput(checkpoint=dict(meta=meta, state_dict=state_dict),
                           report=report,
                           header=f'{args.src} -> {args.dst} (encoder only)',
                           after_report=[describe_arch(arch)])


def main(argv: Optional[List[str]] = None) -> int:
    return run_converter_cli('extract_backbone', parse_args(argv), convert)


if __name__ == '__main__':
    sys.exit(main())
