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
import sys
from typing import Any, Dict, List, Optional

from checkpoint_layout import CheckpointFormatError, check_vicmae_encoder
from converter_cli import (ConverterOutput, converter_arg_parser,
                           run_converter_cli, vicmae_state_dict)
from key_rules import vicmae_to_timm


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


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    parser = converter_arg_parser(
        description='Export a vicmae_mm encoder as a timm VisionTransformer '
        'state dict',
        src_help='vicmae_mm checkpoint (pretraining or extracted backbone)',
        dst_help='where to write the timm state dict',
        options=[('--num-heads',
                  dict(type=int,
                       default=None,
                       help='attention heads, for the printed timm '
                       'arguments (not stored in the weights; default '
                       'embed_dims // 64)'))])
    return parser.parse_args(argv)


def convert(checkpoint: Any, args: argparse.Namespace) -> ConverterOutput:
    """The timm state dict of the encoder, and the timm arguments."""
    source = vicmae_state_dict(checkpoint, args.src)
    state_dict, report = vicmae_to_timm(source, args.src)
    bare = {f'backbone.{k}': v for k, v in source.items()} \
        if not any(k.startswith('backbone.') for k in source) else source
    kwargs = timm_kwargs(check_vicmae_encoder(bare, args.src),
                         num_heads=args.num_heads)
    return ConverterOutput(
        checkpoint=state_dict,
        report=report,
        header=f'{args.src} (vicmae_mm) -> {args.dst} '
        '(timm VisionTransformer)',
        after_report=[
            'timm.models.vision_transformer.VisionTransformer(' +
            ', '.join(f'{k}={v!r}' for k, v in kwargs.items()) + ')'
        ])


def main(argv: Optional[List[str]] = None) -> int:
    return run_converter_cli('vicmae_to_timm', parse_args(argv), convert)


if __name__ == '__main__':
    sys.exit(main())
