# Copyright (c) vicmae_mm contributors. All rights reserved.
"""The ViC-MAE encoder: an MAE-style masked ViT with mmpretrain key names."""
import inspect
from typing import Optional, Sequence, Tuple, Union

import numpy as np
import torch
from mmengine.model.weight_init import initialize
from mmpretrain.models.selfsup.mae import MAEViT
from mmpretrain.registry import MODELS

from ..utils.pretrained_vit import is_pretrained
from .fast_vit_block import (FastTransformerEncoderLayer,
                             resolve_checkpointing, run_vit_blocks)

_MAEVIT_DEFAULTS = {
    k: p.default
    for k, p in inspect.signature(MAEViT.__init__).parameters.items()
}


@MODELS.register_module()
class ViCMAEViT(MAEViT):
    """ViT encoder used by ViC-MAE pretraining.

    It is mmpretrain's :class:`MAEViT` (``VisionTransformer`` parameter
    names, so a checkpoint's ``backbone.`` weights load into mmpretrain
    unchanged) with the released mask ratio (0.5) as default, ``'small'`` as
    the standard ViT-S (not mmpretrain's legacy 768-wide one), masking
    drivable by given noise (so two runs can share the exact same masks),
    a visible-token gather without a ``repeat`` of the index, and optionally
    :class:`~.fast_vit_block.FastTransformerEncoderLayer` blocks and
    activation checkpointing.

    Args:
        arch (str | dict): ``'small'``, ``'base'``, ``'large'``, ``'huge'``
            (use ``patch_size=14``) or a dict with ``embed_dims``,
            ``num_layers``, ``num_heads`` and ``feedforward_channels``.
        img_size (int): Square input size, divisible by ``patch_size``.
        patch_size (int): Patch size.
        mask_ratio (float): Fraction of patch tokens dropped, in ``[0, 1)``.
        fast_path (bool): Build ``FastTransformerEncoderLayer`` blocks
            (results equal mmpretrain's up to float rounding).
        with_cp (bool | int): Recompute block activations in backward
            (masked pass): ``True`` for all blocks, ``k`` for the first ``k``.
        **kwargs: Other arguments of :class:`MAEViT`.
    """

    arch_zoo = {
        **MAEViT.arch_zoo,
        **dict.fromkeys(['s', 'small'],
                        dict(embed_dims=384, num_layers=12, num_heads=6,
                             feedforward_channels=1536)),
    }

    def __init__(self,
                 arch: Union[str, dict] = 'base',
                 img_size: Union[int, Sequence[int]] = 224,
                 patch_size: int = 16,
                 mask_ratio: float = 0.5,
                 fast_path: bool = True,
                 with_cp: Union[bool, int] = False,
                 **kwargs) -> None:
        if not 0.0 <= float(mask_ratio) < 1.0:
            raise ValueError(
                f'ViCMAEViT: mask_ratio must be in [0, 1), got {mask_ratio}')
        sizes = (img_size, img_size) if isinstance(img_size, int) \
            else tuple(img_size)
        if any(s % patch_size for s in sizes):
            raise ValueError(
                f'ViCMAEViT: img_size {img_size} is not divisible by '
                f'patch_size {patch_size}')
        if isinstance(arch, str) and arch not in self.arch_zoo:
            raise ValueError(f'ViCMAEViT: unknown arch {arch!r}; choose from '
                             f'{sorted(self.arch_zoo)} or pass a dict')
        super().__init__(arch=arch, img_size=img_size, patch_size=patch_size,
                         mask_ratio=mask_ratio, **kwargs)
        if sizes[0] != sizes[1]:
            raise ValueError('ViCMAEViT: pretraining uses square inputs (the '
                             'sin-cos embedding and MAE head assume it); got '
                             f'img_size {img_size}')
        self.fast_path = bool(fast_path)
        if self.fast_path:
            self._build_fast_layers(kwargs)
        self.num_checkpointed = resolve_checkpointing(
            with_cp, len(self.layers), 'ViCMAEViT')

    def _build_fast_layers(self, kwargs: dict) -> None:
        # with the arguments VisionTransformer gave its own blocks (it
        # builds them by class, not through the registry)
        def arg(name):
            return kwargs.get(name, _MAEVIT_DEFAULTS[name])

        layer_cfgs = arg('layer_cfgs')
        if isinstance(layer_cfgs, dict):
            layer_cfgs = [layer_cfgs] * self.num_layers
        dpr = np.linspace(0, arg('drop_path_rate'), self.num_layers)
        arch = self.arch_settings
        for i in range(len(self.layers)):
            cfg = dict(embed_dims=self.embed_dims, num_heads=arch['num_heads'],
                       feedforward_channels=arch['feedforward_channels'],
                       drop_rate=arg('drop_rate'), drop_path_rate=dpr[i],
                       qkv_bias=True, norm_cfg=arg('norm_cfg'))
            cfg.update(layer_cfgs[i])
            self.layers[i] = FastTransformerEncoderLayer(**cfg)

    def init_weights(self) -> None:
        """MAE's initialisation, then a ``Pretrained`` ``init_cfg`` on top.

        :meth:`MAEViT.init_weights` would re-initialise the position and
        patch embeddings and cls token *after* loading a checkpoint; here
        the checkpoint is loaded last, so every tensor it holds is kept.
        """
        cfgs = self.init_cfg
        cfgs = cfgs if isinstance(cfgs, list) else [cfgs]
        pretrained = [c for c in cfgs if is_pretrained(c)]
        if not pretrained:
            return super().init_weights()
        init_cfg = self.init_cfg
        self.init_cfg = [c for c in cfgs if c not in pretrained] or None
        super().init_weights()
        self.init_cfg = init_cfg
        initialize(self, pretrained)

    def random_masking(
        self,
        x: torch.Tensor,
        mask_ratio: float = 0.5,
        noise: Optional[torch.Tensor] = None
    ) -> Tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Keep a random subset of ``int(L * (1 - mask_ratio))`` tokens.

        Args:
            x (torch.Tensor): Patch tokens, ``(B, L, C)``.
            mask_ratio (float): Fraction of tokens to drop.
            noise (torch.Tensor, optional): ``(B, L)`` scores; the smallest
                are kept. Random when omitted.

        Returns:
            tuple: visible tokens ``(B, L_keep, C)``, mask ``(B, L)`` (1 =
            dropped), ``ids_restore`` ``(B, L)``.
        """
        B, L, C = x.shape
        len_keep = int(L * (1 - mask_ratio))
        if noise is None:
            noise = torch.rand(B, L, device=x.device)
        elif noise.shape != (B, L):
            raise ValueError(f'mask noise must have shape {(B, L)}, '
                             f'got {tuple(noise.shape)}')
        ids_shuffle = torch.argsort(noise, dim=1)
        ids_restore = torch.argsort(ids_shuffle, dim=1)
        ids_keep = ids_shuffle[:, :len_keep]
        batch_idx = torch.arange(B, device=x.device).unsqueeze(1)
        x_masked = x[batch_idx, ids_keep]
        mask = (ids_restore >= len_keep).to(x.dtype)
        return x_masked, mask, ids_restore

    def forward(self, x: torch.Tensor, mask: Optional[bool] = True,
                noise: Optional[torch.Tensor] = None) -> Tuple:
        """Encode images, masked (pretraining) or whole (features).

        Args:
            x (torch.Tensor): Images ``(B, 3, H, W)``.
            mask (bool, optional): ``True`` to mask; ``False``/``None`` for
                all tokens (:class:`VisionTransformer`'s output tuple).
            noise (torch.Tensor, optional): See :meth:`random_masking`.

        Returns:
            tuple: ``(latent (B, 1 + L_keep, C), mask (B, L),
            ids_restore (B, L))`` when masking.
        """
        if not mask:
            return super(MAEViT, self).forward(x)
        B = x.shape[0]
        tokens = self.patch_embed(x)[0]
        if tokens.shape[1] != self.num_patches:
            raise ValueError(
                f'ViCMAEViT: input {tuple(x.shape[-2:])} gives '
                f'{tokens.shape[1]} patches, the model was built for '
                f'{self.num_patches} (img_size={self.img_size})')
        tokens = tokens + self.pos_embed[:, 1:, :]
        tokens, mask, ids_restore = self.random_masking(
            tokens, self.mask_ratio, noise)
        cls_token = (self.cls_token + self.pos_embed[:, :1, :]).expand(
            B, -1, -1)
        tokens = torch.cat((cls_token, tokens), dim=1)
        tokens = run_vit_blocks(self.layers, tokens, self.num_checkpointed)
        return self.ln1(tokens), mask, ids_restore
