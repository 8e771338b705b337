# Copyright (c) vicmae_mm contributors. All rights reserved.
"""The toolkit's collectives, each on a device its process group takes.

Every collective of vicmae_mm goes through here (NCCL takes CUDA tensors
only, gloo CPU ones): a tensor is sent from its own device when the group
is registered for it, else from :func:`comm_device`. Unlike
``mmengine.dist``, which decides by backend name, this reads the group's
registered device types, so it holds for any backend.
"""
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
    """The device on which ``group`` takes tensors, CPU where it can.

    Args:
        group (ProcessGroup, optional): Defaults to the default group.

    Returns:
        torch.device: ``cpu`` for gloo, ``cuda:<current>`` for NCCL (or any
        group registered for CUDA only), else mmengine's choice.
    """
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

    One one-element all-reduce and one host sync; pass a tensor (e.g.
    ``~torch.isfinite(loss).all()``) to keep the device work asynchronous
    up to that sync.

    Args:
        flag (bool | torch.Tensor): This rank's value (a tensor is true if
            any element is non-zero).

    Returns:
        bool: The OR of ``flag`` over all ranks.
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
    """All-gather along dim 0 whose backward reduce-scatters: each rank gets
    the summed gradient of its own slice, moving 1/W of the data an
    all-reduce of the whole stack would."""

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
    """Concatenate ``x`` from every rank along dim 0, keeping gradients.

    Identity on one process.

    Args:
        x (torch.Tensor): This rank's ``(n, ...)`` tensor, same shape on
            every rank.

    Returns:
        torch.Tensor: ``(W * n, ...)``, rank ``r``'s rows at
        ``[r * n, (r + 1) * n)``.
    """
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
    """Sum ``x`` over ranks, keeping gradients (identity on one process).

    Args:
        x (torch.Tensor): This rank's tensor.

    Returns:
        torch.Tensor: The sum over ranks, on ``x``'s device.
    """
    if get_dist_info()[1] == 1:
        return x
    return _AllReduceSumWithGrad.apply(x)
