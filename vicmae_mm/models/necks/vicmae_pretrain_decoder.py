# Copyright (c) vicmae_mm contributors. All rights reserved.
"""mmpretrain's MAE decoder with a faster forward and the same weights."""
import inspect
from typing import Union

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmpretrain.models.necks import MAEPretrainDecoder
from mmpretrain.registry import MODELS

from ..backbones.fast_vit_block import (FastTransformerEncoderLayer,
                                        fast_linear, resolve_checkpointing,
                                        run_vit_blocks)


@MODELS.register_module()
class ViCMAEPretrainDecoder(MAEPretrainDecoder):
    """:class:`MAEPretrainDecoder` (same parameters and state-dict keys)
    whose forward costs less; outputs equal the parent's up to rounding.

    Mask tokens are broadcast and the unshuffle gathers with an expanded
    index view, instead of materialising ``repeat`` copies of both; the
    final norm and pixel predictor skip the cls token (whose prediction
    mmpretrain computes and then drops).

    Args:
        fast_path (bool): Use ``FastTransformerEncoderLayer`` blocks and the
            measured-fastest CPU matmuls; ``False`` keeps mmpretrain's blocks
            and runs the parent's forward (unless checkpointing is on).
        with_cp (bool | int): Recompute block activations in backward:
            ``True`` all blocks, ``k`` the first ``k``.
        **kwargs: Arguments of :class:`MAEPretrainDecoder`.
    """

    def __init__(self,
                 fast_path: bool = True,
                 with_cp: Union[bool, int] = False,
                 **kwargs) -> None:
        super().__init__(**kwargs)
        self.fast_path = bool(fast_path)
        if self.fast_path:
            # the arguments MAEPretrainDecoder builds its blocks with
            args = inspect.signature(MAEPretrainDecoder.__init__).bind(
                self, **kwargs)
            args.apply_defaults()
            a = args.arguments
            dims = a['decoder_embed_dim']
            self.decoder_blocks = nn.ModuleList(
                FastTransformerEncoderLayer(
                    dims, a['decoder_num_heads'], int(a['mlp_ratio'] * dims),
                    qkv_bias=True, norm_cfg=a['norm_cfg'])
                for _ in self.decoder_blocks)
        self.num_checkpointed = resolve_checkpointing(
            with_cp, len(self.decoder_blocks), 'ViCMAEPretrainDecoder')

    def forward(self, x: torch.Tensor,
                ids_restore: torch.Tensor) -> torch.Tensor:
        """Predict the pixels of every patch.

        Args:
            x (torch.Tensor): Encoder tokens ``(B, 1 + L_keep, C)``.
            ids_restore (torch.Tensor): ``(B, L)`` order restoring the
                original patch positions.

        Returns:
            torch.Tensor: ``(B, L, patch_size**2 * in_chans)``.
        """
        if not self.fast_path and not self.num_checkpointed:
            return super().forward(x, ids_restore)
        linear = fast_linear if self.fast_path else F.linear
        B, L = ids_restore.shape
        if x.shape[1] > L + 1 or L + 1 != self.decoder_pos_embed.shape[1]:
            raise ValueError(
                f'ViCMAEPretrainDecoder: got {x.shape[1]} tokens and '
                f'ids_restore for {L} patches; built for {self.num_patches}')
        x = linear(x, self.decoder_embed.weight, self.decoder_embed.bias)
        D = x.shape[-1]
        mask_tokens = self.mask_token.expand(B, L + 1 - x.shape[1], D)
        tokens = torch.cat([x[:, 1:], mask_tokens], dim=1)
        tokens = torch.gather(tokens, 1,
                              ids_restore.unsqueeze(-1).expand(-1, -1, D))
        x = torch.cat([x[:, :1], tokens], dim=1) + self.decoder_pos_embed
        x = run_vit_blocks(self.decoder_blocks, x, self.num_checkpointed)
        x = self.decoder_norm(x[:, 1:])
        return linear(x, self.decoder_pred.weight, self.decoder_pred.bias)
