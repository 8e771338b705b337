# Copyright (c) vicmae_mm contributors. All rights reserved.
"""Mixed precision on CPU (mmengine's AmpOptimWrapper is GPU-only)."""
from contextlib import contextmanager

import torch
from mmengine.optim import OptimWrapper
from mmengine.registry import OPTIM_WRAPPERS


@OPTIM_WRAPPERS.register_module()
class CPUAmpOptimWrapper(OptimWrapper):
    """Run forward passes under ``torch.autocast('cpu')``.

    mmengine's ``AmpOptimWrapper`` refuses CPU. On CPUs with bf16 matrix
    units (AVX512-BF16 / AMX) bf16 autocast roughly doubles matmul
    throughput. bf16 keeps fp32's exponent range, so no loss scaling is
    needed; parameters, gradients and optimizer state stay fp32.

    Args:
        dtype (str): ``'bfloat16'`` (default) or ``'float16'``.
        **kwargs: Arguments of :class:`OptimWrapper`.
    """

    def __init__(self, dtype: str = 'bfloat16', **kwargs) -> None:
        if dtype not in ('bfloat16', 'float16'):
            raise ValueError(f'CPUAmpOptimWrapper: dtype must be "bfloat16" '
                             f'or "float16", got {dtype!r}')
        super().__init__(**kwargs)
        self.cast_dtype = getattr(torch, dtype)

    @contextmanager
    def optim_context(self, model: torch.nn.Module):
        """Autocast the forward pass (and keep gradient-accumulation
        semantics of the base class)."""
        with super().optim_context(model), torch.autocast(
                device_type='cpu', dtype=self.cast_dtype):
            yield
