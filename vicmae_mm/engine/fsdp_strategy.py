# Copyright (c) vicmae_mm contributors. All rights reserved.
"""mmengine's FSDP strategy, runnable without GPUs, with atomic saves."""
import torch
import torch.nn as nn
from mmengine._strategy import FSDPStrategy
from mmengine.dist import is_main_process
from mmengine.model import is_model_wrapper
from mmengine.registry import STRATEGIES
from torch.distributed.fsdp import (FullOptimStateDictConfig,
                                    FullyShardedDataParallel)

from .atomic_local_backend import atomic_write


@STRATEGIES.register_module()
class ViCMAEFSDPStrategy(FSDPStrategy):
    """``FSDPStrategy`` that also runs on CPU (gloo) and saves atomically.

    Only ``state_dict_cfg='full'``, no ``clip_grad`` (why:
    ``docs/get_started.md``, "ViT-H: FSDP").
    """

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        if not self._is_full_state_dict():
            raise ValueError(
                'ViCMAEFSDPStrategy: only state_dict_cfg="full" is supported '
                '(one checkpoint file with the backbone. keys, found by '
                '--resume); got a sharded state dict type')

    def _wrap_model(self, model: nn.Module) -> nn.Module:
        if not torch.cuda.is_available() and not is_model_wrapper(model):
            # sync_module_states is GPU-only (mmengine broadcasts rank 0's
            # weights anyway); optimizer-state offload on CPU (torch 2.14)
            # gathers every state into one reused buffer
            cfg = dict(self.model_wrapper or {})
            cfg.pop('sync_module_states', None)
            cfg['device_id'] = torch.device('cpu')
            self.model_wrapper = cfg
            osd_cfg = self.optim_state_dict_config
            if isinstance(osd_cfg, FullOptimStateDictConfig):
                self.optim_state_dict_config = FullOptimStateDictConfig(
                    rank0_only=osd_cfg.rank0_only, offload_to_cpu=False)
        return super()._wrap_model(model)

    def build_optim_wrapper(self, optim_wrapper, model=None):
        if isinstance(optim_wrapper, dict) and optim_wrapper.get('clip_grad'):
            raise ValueError(
                'ViCMAEFSDPStrategy: optim_wrapper.clip_grad would clip each '
                'rank\'s parameter shard by its own norm under FSDP; remove '
                'it (the ViC-MAE recipes do not clip)')
        return super().build_optim_wrapper(optim_wrapper, model)

    def load_optim_state_dict(self, state_dict: dict) -> None:
        # mmengine 0.10.7 passes the arguments in torch < 2.0's order
        self.optim_wrapper.load_state_dict(
            FullyShardedDataParallel.optim_state_dict_to_load(
                self.model, self.optim_wrapper.optimizer, state_dict))

    def save_checkpoint(self, filename: str, **kwargs) -> None:
        save = super().save_checkpoint  # collective; rank 0 writes
        if '://' in str(filename) or not is_main_process():
            return save(filename, **kwargs)
        atomic_write(filename, lambda tmp: save(tmp, **kwargs))


def refuse_sharded_model(runner, hook: str) -> None:
    """Raise if ``runner.model`` is FSDP-sharded (for monitoring hooks)."""
    if isinstance(runner.model, FullyShardedDataParallel):
        raise RuntimeError(
            f'{hook} does not support FSDP (the strategy of this run): it '
            'calls the unwrapped model outside the training step, where '
            'FSDP parameters are sharded. Remove the hook from '
            'custom_hooks, or train with DDP to use it.')
