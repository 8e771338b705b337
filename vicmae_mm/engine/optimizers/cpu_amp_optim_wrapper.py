# Copyright (c) vicmae_mm contributors. All rights reserved.
"""Mixed precision on CPU (mmengine's AmpOptimWrapper is GPU-only)."""
from contextlib import contextmanager
from typing import Dict, Optional

import torch
from mmengine.optim import OptimWrapper
from mmengine.registry import OPTIM_WRAPPERS

from vicmae_mm.models.utils import any_rank


@OPTIM_WRAPPERS.register_module()
class CPUAmpOptimWrapper(OptimWrapper):
    """Run forward passes under ``torch.autocast('cpu')``.

    For CPUs with bf16 matrix units. No loss scaling (bf16 has fp32's
    range); weights, gradients and optimizer state stay fp32. Skips the
    update of a loss non-finite on any rank (``docs/reliability.md``).

    Args:
        dtype (str): ``'bfloat16'`` or ``'float16'``.
        skip_nonfinite (bool): Skip updates of non-finite losses instead of
            applying NaN gradients.
    """

    def __init__(self,
                 dtype: str = 'bfloat16',
                 skip_nonfinite: bool = True,
                 **kwargs) -> None:
        if dtype not in ('bfloat16', 'float16'):
            raise ValueError(f'CPUAmpOptimWrapper: dtype must be "bfloat16" '
                             f'or "float16", got {dtype!r}')
        super().__init__(**kwargs)
        self.cast_dtype = getattr(torch, dtype)
        self.skip_nonfinite = bool(skip_nonfinite)
        self.skipped_updates = 0
        self._window_poisoned = False

    @contextmanager
    def optim_context(self, model: torch.nn.Module):
        """Autocast the forward pass."""
        with super().optim_context(model), torch.autocast(
                device_type='cpu', dtype=self.cast_dtype):
            yield

    def update_params(self,
                      loss: torch.Tensor,
                      step_kwargs: Optional[Dict] = None,
                      zero_kwargs: Optional[Dict] = None) -> None:
        """As the base class, unless the loss is not finite on some rank."""
        if not self.skip_nonfinite:
            return super().update_params(loss, step_kwargs, zero_kwargs)
        if any_rank(~torch.isfinite(loss.detach()).all()):
            self._window_poisoned = True
            self._inner_count += 1  # what backward() would have counted
        else:
            self.backward(self.scale_loss(loss))
        if self.should_update():
            if self._window_poisoned:
                self.skipped_updates += 1
                self._window_poisoned = False
            else:
                self.step(**(step_kwargs or {}))
            self.zero_grad(**(zero_kwargs or {}))
