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
from typing import Any, Dict, List, Optional

from checkpoint_layout import (VICMAE_PROJECTOR_KEY, StateDict,
                               block_indices, check_vicmae_encoder)
from converter_cli import (ConverterOutput, converter_arg_parser,
                           describe_arch, official_state_dict,
                           run_converter_cli)
from key_rules import official_to_vicmae


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    parser = converter_arg_parser(
        description='Convert an official ViC-MAE checkpoint (timm names) '
        'into a vicmae_mm pretraining checkpoint',
        src_help='official checkpoint (.pth)',
        dst_help='where to write the vicmae_mm checkpoint',
        trust_help='allow full unpickling of SRC (needed when it stores '
        'Python objects such as argparse.Namespace; only for a source you '
        'trust)')
    return parser.parse_args(argv)


def describe_pretrain_heads(state_dict: StateDict) -> Dict[str, Any]:
    """Sizes of the decoder and projector in a vicmae_mm state dict."""
    info: Dict[str, Any] = {}
    if 'neck.decoder_embed.weight' in state_dict:
        info['decoder_embed_dim'] = int(
            state_dict['neck.decoder_embed.weight'].shape[0])
        info['decoder_depth'] = len(
            block_indices(list(state_dict), 'neck.decoder_blocks.'))
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


def convert(checkpoint: Any, args: argparse.Namespace) -> ConverterOutput:
    """The vicmae_mm layout of an official checkpoint."""
    source, ignored = official_state_dict(checkpoint, args.src)
    state_dict, report = official_to_vicmae(source, args.src)
    arch = check_vicmae_encoder(state_dict, args.src)
    arch.update(describe_pretrain_heads(state_dict))
    meta = dict(converter='official_to_vicmae',
                source=osp.basename(args.src),
                arch=arch)
    return ConverterOutput(
        checkpoint=dict(meta=meta, state_dict=state_dict),
        report=report,
        header=f'{args.src} (official layout) -> {args.dst} '
        '(vicmae_mm layout)',
        before_report=[f'ignored top-level entries: {", ".join(ignored)}']
        if ignored else [],
        after_report=[
            describe_arch(arch), 'fine-tune with --cfg-options '
            f'model.backbone.init_cfg.checkpoint={args.dst}'
        ])


def main(argv: Optional[List[str]] = None) -> int:
    return run_converter_cli('official_to_vicmae', parse_args(argv), convert)


if __name__ == '__main__':
    sys.exit(main())
