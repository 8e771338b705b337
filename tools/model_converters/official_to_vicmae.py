# Copyright (c) vicmae_mm contributors. All rights reserved.
"""Convert a released (official) ViC-MAE checkpoint to vicmae_mm.

The official ``.pth`` holds a ``model`` dict in timm names (encoder, MAE
decoder, projector ``nn.Sequential``). The result is an mmengine-style
checkpoint (``meta``, ``state_dict``) with the encoder under ``backbone.``
in mmpretrain ``VisionTransformer`` names, the decoder under ``neck.``
(mmpretrain ``MAEPretrainDecoder``) and the projector under
``projector.fc{k}/bn{k}`` (BatchNorm running statistics included). It can
be fine-tuned with ``model.backbone.init_cfg.checkpoint=DST`` or used as
``load_from`` for the pretraining configs.

Example::

    python tools/model_converters/official_to_vicmae.py \
        vicmae_vitl_official.pth checkpoints/vicmae_vitl.pth
"""
import argparse
import os.path as osp
import sys
from typing import List, Optional

from vicmae_mm.utils import UnsafeCheckpointError
from vicmae_mm.utils.model_conversion import (CheckpointFormatError,
                                              check_vicmae_encoder,
                                              describe_pretrain_heads,
                                              load_checkpoint_file,
                                              official_state_dict,
                                              official_to_vicmae,
                                              save_checkpoint_file)


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description='Convert an official ViC-MAE checkpoint (timm names) '
        'into a vicmae_mm pretraining checkpoint')
    parser.add_argument('src', help='official checkpoint (.pth)')
    parser.add_argument('dst', help='where to write the vicmae_mm checkpoint')
    parser.add_argument(
        '--trust-checkpoint',
        action='store_true',
        help='allow full unpickling of SRC (needed when it stores Python '
        'objects such as argparse.Namespace; only for a source you trust)')
    parser.add_argument('--verbose',
                        action='store_true',
                        help='print every key mapping')
    return parser.parse_args(argv)


def main(argv: Optional[List[str]] = None) -> int:
    args = parse_args(argv)
    if osp.realpath(args.src) == osp.realpath(args.dst):
        print('official_to_vicmae: error: dst must differ from src',
              file=sys.stderr)
        return 1
    try:
        checkpoint = load_checkpoint_file(args.src, args.trust_checkpoint)
        source, ignored = official_state_dict(checkpoint, args.src)
        state_dict, report = official_to_vicmae(source, args.src)
        arch = check_vicmae_encoder(state_dict, args.src)
    except (CheckpointFormatError, UnsafeCheckpointError,
            FileNotFoundError) as err:
        print(f'official_to_vicmae: error: {err}', file=sys.stderr)
        return 1
    arch.update(describe_pretrain_heads(state_dict))
    meta = dict(converter='official_to_vicmae',
                source=osp.basename(args.src),
                arch=arch)
    save_checkpoint_file(dict(meta=meta, state_dict=state_dict), args.dst)

    print(f'{args.src} (official layout) -> {args.dst} (vicmae_mm layout)')
    if ignored:
        print(f'ignored top-level entries: {", ".join(ignored)}')
    for line in report.lines(args.verbose):
        print(line)
    print('architecture found in the weights: ' +
          ', '.join(f'{k}={v}' for k, v in arch.items()))
    print('fine-tune with --cfg-options '
          f'model.backbone.init_cfg.checkpoint={args.dst}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
