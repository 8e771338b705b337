# Copyright (c) vicmae_mm contributors. All rights reserved.
"""BatchNorm over the global batch that also runs on CPU/gloo."""
import torch
import torch.nn as nn
from mmengine.registry import MODELS

from .dist_utils import all_reduce_sum_with_grad, get_dist_info


@MODELS.register_module(name='GlobalBN1d')
class GlobalBatchNorm1d(nn.BatchNorm1d):
    """BatchNorm1d whose statistics span every rank's samples.

    ``torch.nn.SyncBatchNorm`` and mmcv's ``MMSyncBN`` need GPUs; ViC-MAE's
    projector needs global-batch statistics so that N processes train as
    one on the whole batch. Statistics are summed by gradient-aware
    all-reduces (two passes, for a variance as accurate as BatchNorm's).
    On one process or in eval mode this is exactly ``nn.BatchNorm1d``. (The
    released code's per-GPU, per-view BatchNorm is
    ``norm_cfg=dict(type='BN1d')`` with ``projector_per_view=True``.)

    Use it as ``norm_cfg=dict(type='GlobalBN1d')`` (registered in mmengine's
    root registry, so every scope and ``build_norm_layer`` finds it).
    """

    _abbr_ = 'bn'

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training or get_dist_info()[1] == 1:
            return super().forward(x)
        if x.dim() != 2:
            raise ValueError(f'GlobalBN1d expects (N, C) input, got '
                             f'{tuple(x.shape)}')
        count = all_reduce_sum_with_grad(
            x.new_tensor([float(x.shape[0])])).detach()
        mean = all_reduce_sum_with_grad(x.sum(0)) / count
        centred = x - mean
        var = all_reduce_sum_with_grad((centred * centred).sum(0)) / count
        if self.track_running_stats:
            with torch.no_grad():
                self.num_batches_tracked.add_(1)
                m = self.momentum if self.momentum is not None else \
                    1.0 / float(self.num_batches_tracked)
                unbiased = var * (count / (count - 1).clamp(min=1))
                self.running_mean.mul_(1 - m).add_(m * mean.detach())
                self.running_var.mul_(1 - m).add_(m * unbiased.detach())
        out = centred * torch.rsqrt(var + self.eps)
        if self.affine:
            out = out * self.weight + self.bias
        return out
