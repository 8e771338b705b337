# Copyright (c) vicmae_mm contributors. All rights reserved.
"""mmpretrain's MAE decoder with a faster forward and the same weights."""
from typing import Union

import torch
import torch.nn.functional as F
from mmpretrain.models.necks import MAEPretrainDecoder
from mmpretrain.registry import MODELS

from ..backbones.fast_vit_block import (fast_linear, resolve_checkpointing,
                                        run_vit_blocks)


@MODELS.register_module()
class ViCMAEPretrainDecoder(MAEPretrainDecoder):
    """:class:`MAEPretrainDecoder` (identical parameters and state-dict keys)
    whose forward costs less.

    - Mask tokens are broadcast and the unshuffle gathers with an expanded
      index view, instead of materialising ``repeat`` copies of both.
    - Blocks run through
      :func:`~vicmae_mm.models.backbones.fast_vit_block.run_vit_blocks`
      (oneDNN fp32 matmuls on CPU, fused residual adds, optional activation
      checkpointing).
    - The final norm and pixel predictor run on the patch tokens only; the
      cls prediction that mmpretrain computes and then drops is skipped.

    Outputs equal :class:`MAEPretrainDecoder`'s up to float rounding.

    Args:
        fast_path (bool): Use the fast block forward and oneDNN matmuls.
            ``False`` runs the parent's forward unchanged (unless
            checkpointing is on). Defaults to True.
        checkpoint_activations (bool | int): Recompute block activations in
            backward: ``True`` all blocks, ``k`` the first ``k``. Defaults to
            False.
        **kwargs: Arguments of :class:`MAEPretrainDecoder`.
    """

    def __init__(self,
                 fast_path: bool = True,
                 checkpoint_activations: Union[bool, int] = False,
                 **kwargs) -> None:
        super().__init__(**kwargs)
        self.fast_path = bool(fast_path)
        self.num_checkpointed = resolve_checkpointing(checkpoint_activations,
                                                      len(self.decoder_blocks),
                                                      'ViCMAEPretrainDecoder')

    def forward(self, x: torch.Tensor,
                ids_restore: torch.Tensor) -> torch.Tensor:
        """Predict the pixels of every patch.

        Args:
            x (torch.Tensor): Encoder tokens ``(B, 1 + L_keep, C)`` (cls
                first).
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
        x = run_vit_blocks(self.decoder_blocks, x, self.fast_path,
                           self.num_checkpointed)
        x = self.decoder_norm(x[:, 1:])
        return linear(x, self.decoder_pred.weight, self.decoder_pred.bias)
