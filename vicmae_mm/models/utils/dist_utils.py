# Copyright (c) vicmae_mm contributors. All rights reserved.
"""The toolkit's collectives, sent from a device the group is registered for
(``mmengine.dist`` decides by backend name), so they hold for any backend."""
from typing import Tuple, Union

import torch
import torch.distributed as dist
from mmengine.dist import get_comm_device as _mmengine_comm_device
from mmengine.dist import get_dist_info

__all__ = [
    'get_dist_info', 'comm_device', 'any_rank', 'all_gather_with_grad',
    'all_reduce_sum_with_grad'
]


def _single(name: str, old_name: str):
    """torch >= 2.14 name of a single-tensor collective, else the old one."""
    return getattr(dist, name, None) or getattr(dist, old_name)


def _device_types(group=None) -> Tuple[str, ...]:
    group = group if group is not None else dist.group.WORLD
    return tuple(d.type for d in getattr(group, '_device_types', ()))


def comm_device(group=None) -> torch.device:
    """The device ``group`` (default: WORLD) takes tensors on: CPU where it
    can, the current CUDA device if CUDA only (NCCL), else mmengine's."""
    types = _device_types(group)
    if 'cpu' in types:
        return torch.device('cpu')
    if types[:1] == ('cuda', ):
        return torch.device('cuda', torch.cuda.current_device())
    return _mmengine_comm_device(group)


def _sendable(x: torch.Tensor, group=None) -> torch.Tensor:
    """``x`` itself when the group takes its device, else a copy."""
    types = _device_types(group)
    if not types or x.device.type in types:
        return x
    return x.to(comm_device(group))


def any_rank(flag: Union[bool, torch.Tensor]) -> bool:
    """Whether ``flag`` is true on any rank, so every rank decides alike.

    One one-element all-reduce and one host sync; a tensor flag (true if any
    element is non-zero) keeps the device work asynchronous up to that sync.
    """
    if get_dist_info()[1] == 1:
        return bool(torch.as_tensor(flag).any())
    return bool(_vote(flag).item())


def _vote(flag: Union[bool, torch.Tensor]) -> torch.Tensor:
    """The device work of :func:`any_rank`: the MAX-reduced ``(1,)`` int32."""
    if isinstance(flag, torch.Tensor):
        vote = _sendable(flag.detach().reshape(-1).any().to(torch.int32))
    else:
        vote = torch.tensor(int(bool(flag)), device=comm_device())
    vote = vote.reshape(1).clone()
    dist.all_reduce(vote, op=dist.ReduceOp.MAX)
    return vote


class _AllGatherWithGrad(torch.autograd.Function):
    """All-gather on dim 0; backward reduce-scatters each rank's summed slice
    gradient (1/W of an all-reduce's traffic)."""

    @staticmethod
    def forward(ctx, x: torch.Tensor) -> torch.Tensor:
        world_size = dist.get_world_size()
        ctx.device = x.device
        send = _sendable(x.contiguous())
        out = send.new_empty((world_size * send.shape[0], ) + send.shape[1:])
        _single('all_gather_single', 'all_gather_into_tensor')(out, send)
        return out.to(x.device)

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> torch.Tensor:
        world_size = dist.get_world_size()
        send = _sendable(grad.contiguous())
        out = send.new_empty((send.shape[0] // world_size, ) + send.shape[1:])
        _single('reduce_scatter_single', 'reduce_scatter_tensor')(out, send)
        return out.to(ctx.device)


def all_gather_with_grad(x: torch.Tensor) -> torch.Tensor:
    """Concatenate the same-shape ``x`` of every rank in rank order along dim
    0, keeping gradients (identity on one process)."""
    if get_dist_info()[1] == 1:
        return x
    return _AllGatherWithGrad.apply(x)


class _AllReduceSumWithGrad(torch.autograd.Function):
    """Sum over ranks; the gradient of a sum is the summed gradient."""

    @staticmethod
    def forward(ctx, x: torch.Tensor) -> torch.Tensor:
        return _all_reduce_sum(x)

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> torch.Tensor:
        return _all_reduce_sum(grad)


def _all_reduce_sum(x: torch.Tensor) -> torch.Tensor:
    send = _sendable(x).clone()
    dist.all_reduce(send)
    return send.to(x.device)


def all_reduce_sum_with_grad(x: torch.Tensor) -> torch.Tensor:
    """Sum ``x`` over ranks, keeping gradients (identity on one process)."""
    if get_dist_info()[1] == 1:
        return x
    return _AllReduceSumWithGrad.apply(x)
