# Copyright (c) vicmae_mm contributors. All rights reserved.
"""Pool the encoder's local patch tokens into one global vector."""
from typing import Optional

import torch
import torch.nn as nn
from mmengine.model import BaseModule
from mmpretrain.registry import MODELS


@MODELS.register_module()
class TokenPoolingNeck(BaseModule):
    """Global representation from the encoder tokens (after its final norm).

    ViC-MAE pools the *patch* tokens: the paper reports that pooling local
    features, rather than using the cls token, is what keeps the
    contrastive branch from collapsing.

    Args:
        in_channels (int): Token width.
        pool_type (str): ``'mean'``, ``'max'``, ``'gem'`` (generalised mean
            with learnable ``p`` over the positive part of the tokens),
            ``'cls'`` (the cls token, for ablation) or ``'attn'`` (a learned
            query attending over the patch tokens).
        num_extra_tokens (int): Leading non-patch tokens.
        gem_p (float): Initial GeM exponent.
        gem_eps (float): GeM clamp.
        attn_heads (int): Heads of the attention pooling.
        init_cfg (dict, optional): Initialization config.
    """

    POOL_TYPES = ('mean', 'max', 'gem', 'cls', 'attn')

    def __init__(self,
                 in_channels: int,
                 pool_type: str = 'mean',
                 num_extra_tokens: int = 1,
                 gem_p: float = 3.0,
                 gem_eps: float = 1e-6,
                 attn_heads: int = 8,
                 init_cfg: Optional[dict] = None) -> None:
        super().__init__(init_cfg=init_cfg)
        if pool_type not in self.POOL_TYPES:
            raise ValueError(f'TokenPoolingNeck: unknown pool_type '
                             f'{pool_type!r}; choose from {self.POOL_TYPES}')
        if pool_type == 'cls' and num_extra_tokens < 1:
            raise ValueError("TokenPoolingNeck: pool_type='cls' needs a cls "
                             'token (num_extra_tokens >= 1)')
        self.in_channels = in_channels
        self.pool_type = pool_type
        self.num_extra_tokens = num_extra_tokens
        if pool_type == 'gem':
            self.gem_p = nn.Parameter(torch.tensor(float(gem_p)))
            self.gem_eps = gem_eps
        elif pool_type == 'attn':
            if in_channels % attn_heads:
                raise ValueError(f'TokenPoolingNeck: in_channels '
                                 f'{in_channels} not divisible by '
                                 f'attn_heads {attn_heads}')
            self.query = nn.Parameter(torch.zeros(1, 1, in_channels))
            self.attn = nn.MultiheadAttention(in_channels, attn_heads,
                                              batch_first=True)
            nn.init.trunc_normal_(self.query, std=0.02)

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        """Pool ``(B, num_extra_tokens + L, C)`` tokens into ``(B, C)``."""
        if tokens.dim() != 3:
            raise ValueError('TokenPoolingNeck expects (B, N, C) tokens, got '
                             f'{tuple(tokens.shape)}')
        if self.pool_type == 'cls':
            return tokens[:, 0]
        patches = tokens[:, self.num_extra_tokens:]
        if self.pool_type == 'mean':
            return patches.mean(dim=1)
        if self.pool_type == 'max':
            return patches.amax(dim=1)
        if self.pool_type == 'gem':
            p = self.gem_p.clamp(min=1.0)
            pooled = patches.clamp(min=self.gem_eps).pow(p).mean(dim=1)
            return pooled.pow(1.0 / p)
        query = self.query.expand(patches.shape[0], -1, -1)
        return self.attn(query, patches, patches, need_weights=False)[0][:, 0]
