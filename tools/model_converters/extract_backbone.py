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
from typing import List, Optional

from vicmae_mm.utils import UnsafeCheckpointError
from vicmae_mm.utils.model_conversion import (
    CheckpointFormatError, check_vicmae_encoder, extract_backbone,
    load_checkpoint_file, save_checkpoint_file, vicmae_state_dict)


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description='Extract the encoder (backbone.*) of a vicmae_mm '
        'checkpoint')
    parser.add_argument('src', help='vicmae_mm checkpoint')
    parser.add_argument('dst', help='where to write the encoder weights')
    parser.add_argument(
        '--strip-prefix',
        action='store_true',
        help='drop "backbone." from the keys (then load without prefix)')
    parser.add_argument(
        '--trust-checkpoint',
        action='store_true',
        help='allow full unpickling of SRC (only for a source you trust)')
    parser.add_argument('--verbose',
                        action='store_true',
                        help='print every key')
    return parser.parse_args(argv)


def main(argv: Optional[List[str]] = None) -> int:
    args = parse_args(argv)
    if osp.realpath(args.src) == osp.realpath(args.dst):
        print('extract_backbone: error: dst must differ from src',
              file=sys.stderr)
        return 1
    try:
        checkpoint = load_checkpoint_file(args.src, args.trust_checkpoint)
        source = vicmae_state_dict(checkpoint, args.src)
        arch = check_vicmae_encoder(source, args.src)
        state_dict, report = extract_backbone(source, args.strip_prefix,
                                              args.src)
    except (CheckpointFormatError, UnsafeCheckpointError,
            FileNotFoundError) as err:
        print(f'extract_backbone: error: {err}', file=sys.stderr)
        return 1
    meta = dict(converter='extract_backbone',
                source=osp.basename(args.src),
                prefix='' if args.strip_prefix else 'backbone.',
                arch=arch)
    save_checkpoint_file(dict(meta=meta, state_dict=state_dict), args.dst)

    print(f'{args.src} -> {args.dst} (encoder only)')
    for line in report.lines(args.verbose):
        print(line)
    print('architecture found in the weights: ' +
          ', '.join(f'{k}={v}' for k, v in arch.items()))
    return 0


if __name__ == '__main__':
    sys.exit(main())
