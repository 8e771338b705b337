# Copyright (c) vicmae_mm contributors. All rights reserved.
"""Collectives usable with every backend (gloo too), most keeping
gradients."""
from typing import Tuple

import torch
import torch.distributed as dist


def get_dist_info() -> Tuple[int, int]:
    """Return ``(rank, world_size)``; ``(0, 1)`` outside distributed runs."""
    if dist.is_available() and dist.is_initialized():
        return dist.get_rank(), dist.get_world_size()
    return 0, 1


class _AllGatherWithGrad(torch.autograd.Function):
    """All-gather whose backward returns to each rank the summed gradient of
    its own slice. Uses all_reduce in backward (instead of reduce_scatter /
    all_to_all, which gloo lacks)."""

    @staticmethod
    def forward(ctx, x: torch.Tensor) -> Tuple[torch.Tensor, ...]:
        out = [torch.empty_like(x) for _ in range(dist.get_world_size())]
        dist.all_gather(out, x.contiguous())
        return tuple(out)

    @staticmethod
    def backward(ctx, *grads: torch.Tensor) -> torch.Tensor:
        all_grads = torch.stack(grads)
        dist.all_reduce(all_grads)
        return all_grads[dist.get_rank()]


def any_rank(flag: bool) -> bool:
    """Whether ``flag`` is true on at least one rank (one all-reduce; the
    flag itself without a process group), so every rank takes the same
    decision.

    Args:
        flag (bool): This rank's value.

    Returns:
        bool: The OR of ``flag`` over all ranks.
    """
    _, world_size = get_dist_info()
    if world_size == 1:
        return flag
    votes = torch.tensor([float(flag)])
    dist.all_reduce(votes)
    return bool(votes.item() > 0)


def all_gather_with_grad(x: torch.Tensor) -> torch.Tensor:
    """Concatenate ``x`` from every rank along dim 0, keeping gradients.

    Every rank must pass a tensor of the same shape. Outside distributed
    runs the input is returned unchanged.
    """
    _, world_size = get_dist_info()
    if world_size == 1:
        return x
    return torch.cat(_AllGatherWithGrad.apply(x), dim=0)


class _AllReduceSumWithGrad(torch.autograd.Function):
    """Sum over ranks; the gradient of a sum is the summed gradient."""

    @staticmethod
    def forward(ctx, x: torch.Tensor) -> torch.Tensor:
        x = x.clone()
        dist.all_reduce(x)
        return x

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> torch.Tensor:
        grad = grad.clone()
        dist.all_reduce(grad)
        return grad


def all_reduce_sum_with_grad(x: torch.Tensor) -> torch.Tensor:
    """Sum ``x`` over ranks, keeping gradients (identity on one process)."""
    _, world_size = get_dist_info()
    if world_size == 1:
        return x
    return _AllReduceSumWithGrad.apply(x)
