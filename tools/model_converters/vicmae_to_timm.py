# Copyright (c) vicmae_mm contributors. All rights reserved.
"""Export the encoder of a vicmae_mm checkpoint to timm.

Writes a plain state dict for ``timm.models.vision_transformer.
VisionTransformer`` (class token, final ``norm``, no classifier). The
decoder, pooling and projector weights are left out. The printed keyword
arguments build the matching model; ``global_pool='avg', fc_norm=False``
gives ViC-MAE's mean-pooled patch-token feature::

    model = timm.models.vision_transformer.VisionTransformer(**kwargs)
    model.load_state_dict(torch.load(DST, weights_only=True))

Example::

    python tools/model_converters/vicmae_to_timm.py \
        work_dirs/pretrain_vitb/epoch_800.pth checkpoints/vicmae_vitb_timm.pth
"""
import argparse
import os.path as osp
import sys
from typing import List, Optional

from vicmae_mm.utils import UnsafeCheckpointError
from vicmae_mm.utils.model_conversion import (
    CheckpointFormatError, check_vicmae_encoder, load_checkpoint_file,
    save_checkpoint_file, timm_kwargs, vicmae_state_dict, vicmae_to_timm)


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description='Export a vicmae_mm encoder as a timm VisionTransformer '
        'state dict')
    parser.add_argument('src',
                        help='vicmae_mm checkpoint (pretraining or '
                        'extracted backbone)')
    parser.add_argument('dst', help='where to write the timm state dict')
    parser.add_argument(
        '--num-heads',
        type=int,
        default=None,
        help='attention heads, for the printed timm arguments (not stored '
        'in the weights; default embed_dims // 64)')
    parser.add_argument(
        '--trust-checkpoint',
        action='store_true',
        help='allow full unpickling of SRC (only for a source you trust)')
    parser.add_argument('--verbose',
                        action='store_true',
                        help='print every key mapping')
    return parser.parse_args(argv)


def main(argv: Optional[List[str]] = None) -> int:
    args = parse_args(argv)
    if osp.realpath(args.src) == osp.realpath(args.dst):
        print('vicmae_to_timm: error: dst must differ from src',
              file=sys.stderr)
        return 1
    try:
        checkpoint = load_checkpoint_file(args.src, args.trust_checkpoint)
        source = vicmae_state_dict(checkpoint, args.src)
        state_dict, report = vicmae_to_timm(source, args.src)
        bare = {f'backbone.{k}': v for k, v in source.items()} \
            if not any(k.startswith('backbone.') for k in source) else source
        kwargs = timm_kwargs(check_vicmae_encoder(bare, args.src),
                             num_heads=args.num_heads)
    except (CheckpointFormatError, UnsafeCheckpointError,
            FileNotFoundError) as err:
        print(f'vicmae_to_timm: error: {err}', file=sys.stderr)
        return 1
    save_checkpoint_file(state_dict, args.dst)

    print(f'{args.src} (vicmae_mm) -> {args.dst} (timm VisionTransformer)')
    for line in report.lines(args.verbose):
        print(line)
    print('timm.models.vision_transformer.VisionTransformer(' +
          ', '.join(f'{k}={v!r}' for k, v in kwargs.items()) + ')')
    return 0


if __name__ == '__main__':
    sys.exit(main())
