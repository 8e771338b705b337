# Copyright (c) vicmae_mm contributors. All rights reserved.
"""NT-Xent / InfoNCE over the global batch."""
from typing import Tuple

import torch
import torch.nn.functional as F
from mmengine.model import BaseModule
from mmpretrain.registry import MODELS

from ..utils import all_gather_with_grad, get_dist_info


@MODELS.register_module()
class InfoNCEHead(BaseModule):
    """Symmetric NT-Xent loss between two views (SimCLR form).

    For ``b`` local pairs on rank ``r`` of ``W``, the projections
    ``[view1; view2]`` are L2-normalised and gathered once, with gradients,
    into ``2bW`` keys in rank order (rank 0's view 1, rank 0's view 2, rank
    1's view 1, ...). Each local query is scored against every key but
    itself; its positives depend on ``positive_mode``:

    - ``'pair'``: the other view of the same sample, key
      ``2br + (i + b) mod 2b``.
    - ``'local_index'``: every key with the same *local* batch index ``i``
      on any rank (``2W - 1`` positives, summed inside the log), as the
      released code does with ``arange(b)`` labels on every rank; equals
      ``'pair'`` on one process.

    ``loss = mean(logsumexp(all but self) - logsumexp(positives))`` over the
    local queries, in fp32 even under autocast: at temperature 0.1
    half-precision logits lose the differences between close keys.

    Args:
        temperature (float): Softmax temperature, > 0.
        gather_distributed (bool): Use every rank's samples as negatives.
        positive_mode (str): ``'pair'`` or ``'local_index'``.
        init_cfg (dict, optional): Initialization config.
    """

    POSITIVE_MODES = ('pair', 'local_index')

    def __init__(self,
                 temperature: float = 0.1,
                 gather_distributed: bool = True,
                 positive_mode: str = 'pair',
                 init_cfg=None) -> None:
        super().__init__(init_cfg=init_cfg)
        if not float(temperature) > 0:
            raise ValueError(
                f'InfoNCEHead: temperature must be > 0, got {temperature}')
        if positive_mode not in self.POSITIVE_MODES:
            raise ValueError(f'InfoNCEHead: unknown positive_mode '
                             f'{positive_mode!r}; choose from '
                             f'{self.POSITIVE_MODES}')
        self.temperature = float(temperature)
        self.gather_distributed = gather_distributed
        self.positive_mode = positive_mode

    def loss(self, z1: torch.Tensor,
             z2: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
        """Compute the contrastive loss and top-1 accuracy.

        Args:
            z1 (torch.Tensor): Projections of view 1, ``(b, D)``.
            z2 (torch.Tensor): Projections of view 2, ``(b, D)``.

        Returns:
            tuple: ``(loss, accuracy)``, the percentage of local queries
            whose most similar key is a positive.
        """
        if z1.shape != z2.shape:
            raise ValueError(f'InfoNCEHead: view shapes differ: '
                             f'{tuple(z1.shape)} vs {tuple(z2.shape)}')
        b = z1.shape[0]
        rank, world_size = get_dist_info()
        if not (self.gather_distributed and world_size > 1):
            rank, world_size = 0, 1
        # Autocast would run the matmul below in half precision again.
        with torch.autocast(device_type=z1.device.type, enabled=False):
            q = F.normalize(torch.cat([z1, z2]).float(), dim=1)
            keys = all_gather_with_grad(q) if world_size > 1 else q
            logits = q @ keys.t() / self.temperature  # (2b, 2bW)
            rows = torch.arange(2 * b, device=q.device)
            self_idx = rows + 2 * b * rank
            if self.positive_mode == 'pair':
                positive = torch.zeros_like(logits, dtype=torch.bool)
                positive[rows, 2 * b * rank + (rows + b) % (2 * b)] = True
            else:
                key_idx = torch.arange(keys.shape[0], device=q.device) % b
                positive = key_idx[None] == (rows % b)[:, None]
                positive[rows, self_idx] = False
            logits = logits.index_put((rows, self_idx),
                                      logits.new_tensor(float('-inf')))
            loss = (torch.logsumexp(logits, dim=1) - torch.logsumexp(
                logits.masked_fill(~positive, float('-inf')), dim=1)).mean()
        with torch.no_grad():
            acc = positive[rows, logits.argmax(dim=1)].float().mean() * 100
        return loss, acc
