# Copyright (c) vicmae_mm contributors. All rights reserved.
"""The toolkit's collectives: one device-correct path for every backend.

NCCL accepts CUDA tensors only, gloo CPU (and CUDA) tensors; a tensor the
group cannot take fails with ``No backend type associated with device type
...``. Every collective of vicmae_mm goes through this module, which sends
each tensor on a device the group is registered for: the tensor's own device
when the group takes it (no copy: model tensors on GPU with NCCL, on CPU
with gloo), else :func:`comm_device`. Flags are created on the communication
device directly. mmengine's ``mmengine.dist`` follows the same rule by
backend name; this one reads the group's registered device types, so it
also holds for backends mmengine does not know.
"""
from typing import Tuple, Union

import torch
import torch.distributed as dist
from mmengine.dist import get_comm_device as _mmengine_comm_device
from mmengine.dist import get_dist_info



def _single(name: str, old_name: str):
    """torch >= 2.14 names of the single-tensor collectives (older torch:
    ``*_into_tensor`` / ``*_tensor``), looked up at call time."""
    return getattr(dist, name, None) or getattr(dist, old_name)


__all__ = [
    'get_dist_info', 'comm_device', 'any_rank', 'all_gather_with_grad',
    'all_reduce_sum_with_grad'
]


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
    if not types or 'cpu' in types:
        return torch.device('cpu') if types else _mmengine_comm_device(group)
    if types[0] == 'cuda':
        return torch.device('cuda', torch.cuda.current_device())
    return _mmengine_comm_device(group)


def _sendable(x: torch.Tensor, group=None) -> torch.Tensor:
    """``x`` itself when the group takes its device, else a copy on the
    communication device."""
    types = _device_types(group)
    if not types or x.device.type in types:
        return x
    return x.to(comm_device(group))


def any_rank(flag: Union[bool, torch.Tensor]) -> bool:
    """Whether ``flag`` is true on at least one rank, so every rank takes the
    same decision.

    One all-reduce of one element and one host sync. Pass a tensor (for
    example ``~torch.isfinite(loss).all()`` on the loss's device) to keep
    the device work asynchronous up to that sync.

    Args:
        flag (bool | torch.Tensor): This rank's value (any tensor: true if
            any element is non-zero).

    Returns:
        bool: The OR of ``flag`` over all ranks.
    """
    if get_dist_info()[1] == 1:
        return bool(torch.as_tensor(flag).any())
    return bool(_vote(flag).item())


def _vote(flag: Union[bool, torch.Tensor]) -> torch.Tensor:
    """The all-reduced (MAX) flag, ``(1,)`` int32 on a device the group
    takes; the device work of :func:`any_rank` before its host read."""
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
        _single('reduce_scatter_single', 'reduce_scatter_tensor')(
            out, send)
        return out.to(ctx.device)


def all_gather_with_grad(x: torch.Tensor) -> torch.Tensor:
    """Concatenate ``x`` from every rank along dim 0, keeping gradients.

    Every rank must pass a tensor of the same shape. Outside distributed
    runs the input is returned unchanged.

    Args:
        x (torch.Tensor): This rank's ``(n, ...)`` tensor.

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
