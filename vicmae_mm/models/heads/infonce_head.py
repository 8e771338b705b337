# Copyright (c) vicmae_mm contributors. All rights reserved.
"""NT-Xent / InfoNCE over the global batch, with globally unique pairs."""
from typing import Tuple

import torch
import torch.nn.functional as F
from mmengine.model import BaseModule
from mmpretrain.registry import MODELS

from ..utils import all_gather_with_grad, get_dist_info


@MODELS.register_module()
class InfoNCEHead(BaseModule):
    """Symmetric NT-Xent loss between two views (SimCLR form).

    For a local batch of ``b`` pairs on rank ``r`` of ``W`` ranks, the
    projections of both views are L2-normalised and gathered (with
    gradients) into ``2bW`` keys. Each of the ``2b`` local queries is
    scored against every key except itself; its positive is the other view
    of the same sample, at **global** index ``r*b + i`` — not ``i``, which
    would make sample ``i`` of every rank a false positive.

    Args:
        temperature (float): Softmax temperature, > 0. Defaults to 0.1.
        gather_distributed (bool): Use every rank's samples as negatives.
            Defaults to True.
        init_cfg (dict, optional): Initialization config. Defaults to None.
    """

    def __init__(self,
                 temperature: float = 0.1,
                 gather_distributed: bool = True,
                 init_cfg=None) -> None:
        super().__init__(init_cfg=init_cfg)
        if not float(temperature) > 0:
            raise ValueError(
                f'InfoNCEHead: temperature must be > 0, got {temperature}')
        self.temperature = float(temperature)
        self.gather_distributed = gather_distributed

    def loss(self, z1: torch.Tensor,
             z2: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
        """Compute the contrastive loss and top-1 pair accuracy.

        Args:
            z1 (torch.Tensor): Projections of view 1, ``(b, D)``.
            z2 (torch.Tensor): Projections of view 2, ``(b, D)``.

        Returns:
            tuple: ``(loss, accuracy)``; accuracy is the percentage of local
            queries whose most similar key is their positive.
        """
        if z1.shape != z2.shape:
            raise ValueError(f'InfoNCEHead: view shapes differ: '
                             f'{tuple(z1.shape)} vs {tuple(z2.shape)}')
        b = z1.shape[0]
        # Similarities in fp32: a softmax at temperature 0.1 over thousands
        # of keys is where half precision hurts.
        q = F.normalize(torch.cat([z1, z2]).float(), dim=1)
        rank, world_size = get_dist_info()
        if self.gather_distributed and world_size > 1:
            k1 = all_gather_with_grad(q[:b])
            k2 = all_gather_with_grad(q[b:])
        else:
            rank, world_size = 0, 1
            k1, k2 = q[:b], q[b:]
        n = b * world_size
        keys = torch.cat([k1, k2])  # (2n, D): all view-1 keys, then view-2
        logits = q @ keys.t() / self.temperature  # (2b, 2n)
        local = torch.arange(b, device=q.device) + rank * b
        self_idx = torch.cat([local, local + n])
        pos_idx = torch.cat([local + n, local])
        rows = torch.arange(2 * b, device=q.device)
        logits = logits.index_put((rows, self_idx),
                                  logits.new_tensor(float('-inf')))
        loss = F.cross_entropy(logits, pos_idx)
        with torch.no_grad():
            acc = (logits.argmax(dim=1) == pos_idx).float().mean() * 100
        return loss, acc
