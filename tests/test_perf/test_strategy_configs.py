# Copyright (c) vicmae_mm contributors. All rights reserved.
"""The FSDP / DeepSpeed strategy configs for ViT-H load, keep the recipe and
resolve what mmengine will look up (wrap policy, strategy, optimizer)."""
import os.path as osp

import pytest
import torch
from mmengine.config import Config
from mmengine.registry import FUNCTIONS, OPTIM_WRAPPERS, STRATEGIES
from mmengine.registry import DefaultScope
from mmpretrain.registry import MODELS

import vicmae_mm  # noqa: F401
import vicmae_mm.models.necks.vicmae_pretrain_decoder  # noqa: F401
from helpers import REPO_ROOT

STRATEGY_DIR = osp.join(REPO_ROOT, 'configs', 'vicmae', 'strategies')


@pytest.mark.parametrize('name, strategy, wrapper', [
    ('pretrain_vith_fsdp.py', 'FSDPStrategy', 'AmpOptimWrapper'),
    ('pretrain_vith_deepspeed.py', 'DeepSpeedStrategy',
     'DeepSpeedOptimWrapper'),
])
def test_strategy_config(name, strategy, wrapper):
    cfg = Config.fromfile(osp.join(STRATEGY_DIR, name))
    base = Config.fromfile(
        osp.join(REPO_ROOT, 'configs', 'vicmae', 'pretrain_vith.py'))
    assert cfg.runner_type == 'FlexibleRunner'
    assert cfg.strategy.type == strategy
    assert STRATEGIES.get(strategy) is not None
    assert cfg.optim_wrapper.type == wrapper
    assert OPTIM_WRAPPERS.get(wrapper) is not None
    # the released recipe is unchanged: optimizer, param-wise decay, data
    assert cfg.optim_wrapper.optimizer == base.optim_wrapper.optimizer
    assert cfg.optim_wrapper.paramwise_cfg == base.optim_wrapper.paramwise_cfg
    assert cfg.train_dataloader.batch_size == \
        base.train_dataloader.batch_size
    assert cfg.param_scheduler == base.param_scheduler
    if strategy == 'DeepSpeedStrategy':
        assert cfg.strategy.train_micro_batch_size_per_gpu == \
            cfg.train_dataloader.batch_size
    # the model: ViT-H/14 with every block checkpointed, same keys
    with DefaultScope.overwrite_default_scope('mmpretrain'), \
            torch.device('meta'):
        model = MODELS.build(cfg.model)
        plain = MODELS.build(base.model)
    assert model.backbone.num_checkpointed == len(model.backbone.layers) \
        == 32
    assert model.neck.num_checkpointed == len(model.neck.decoder_blocks)
    assert set(model.state_dict()) == set(plain.state_dict())


def test_fsdp_wrap_policy_makes_every_block_a_unit():
    cfg = Config.fromfile(osp.join(STRATEGY_DIR, 'pretrain_vith_fsdp.py'))
    name = cfg.strategy.model_wrapper.auto_wrap_policy
    # the lookup MMFullyShardedDataParallel does
    with FUNCTIONS.switch_scope_and_registry(None):
        policy = FUNCTIONS.get(name)
    with DefaultScope.overwrite_default_scope('mmpretrain'), \
            torch.device('meta'):
        model = MODELS.build(cfg.model)
    units = [
        n for n, m in model.named_modules() if policy(
            m,
            recurse=False,
            nonwrapped_numel=sum(p.numel() for p in m.parameters()))
    ]
    expected = [f'backbone.layers.{i}' for i in range(32)] + \
        [f'neck.decoder_blocks.{i}' for i in range(8)]
    assert units == expected
    assert policy(model, recurse=True, nonwrapped_numel=0)
