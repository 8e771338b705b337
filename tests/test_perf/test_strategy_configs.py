# Copyright (c) vicmae_mm contributors. All rights reserved.
"""The ViT-H FSDP config keeps the released recipe and its wrap policy makes
every transformer block an FSDP unit; tests/test_perf/test_fsdp_train.py
trains its strategy for real (2 gloo processes)."""
import glob
import os.path as osp

import torch
from mmengine.config import Config
from mmengine.registry import FUNCTIONS, STRATEGIES
from mmengine.registry import DefaultScope
from mmpretrain.registry import MODELS

import vicmae_mm  # noqa: F401
from helpers import REPO_ROOT

STRATEGY_DIR = osp.join(REPO_ROOT, 'configs', 'vicmae', 'strategies')
VITH_FSDP = osp.join(STRATEGY_DIR, 'pretrain_vith_fsdp.py')
TINY_FSDP = osp.join(REPO_ROOT, 'tests', 'configs', 'pretrain_tiny_fsdp.py')


def test_vith_fsdp_config_keeps_the_recipe():
    cfg = Config.fromfile(VITH_FSDP)
    base = Config.fromfile(
        osp.join(REPO_ROOT, 'configs', 'vicmae', 'pretrain_vith.py'))
    assert cfg.runner_type == 'FlexibleRunner'
    assert STRATEGIES.get(cfg.strategy.type).__name__ == 'ViCMAEFSDPStrategy'
    # bf16 without loss scaling; FSDP keeps fp32 gradients and master weights
    assert cfg.optim_wrapper.type == 'AmpOptimWrapper'
    assert cfg.optim_wrapper.dtype == 'bfloat16'
    assert cfg.optim_wrapper.loss_scale == dict(enabled=False)
    wrapper = cfg.strategy.model_wrapper
    assert dict(wrapper.mixed_precision) == dict(
        param_dtype='bfloat16', reduce_dtype='float32',
        buffer_dtype='float32')
    assert wrapper.sync_module_states and wrapper.use_orig_params
    assert cfg.strategy.state_dict_cfg == 'full'
    # the released recipe is unchanged: optimizer, param-wise decay, data
    assert cfg.optim_wrapper.optimizer == base.optim_wrapper.optimizer
    assert cfg.optim_wrapper.paramwise_cfg == base.optim_wrapper.paramwise_cfg
    assert cfg.train_dataloader == base.train_dataloader
    assert cfg.param_scheduler == base.param_scheduler
    # the model: ViT-H/14 with every block checkpointed, same keys
    with DefaultScope.overwrite_default_scope('mmpretrain'), \
            torch.device('meta'):
        model = MODELS.build(cfg.model)
        plain = MODELS.build(base.model)
    assert model.backbone.num_checkpointed == len(model.backbone.layers) \
        == 32
    assert model.neck.num_checkpointed == len(model.neck.decoder_blocks)
    assert set(model.state_dict()) == set(plain.state_dict())


def test_tiny_fsdp_config_trains_the_vith_strategy():
    """What test_fsdp_train.py runs is the ViT-H config's strategy."""
    tiny, vith = Config.fromfile(TINY_FSDP), Config.fromfile(VITH_FSDP)
    for key in ('runner_type', 'strategy'):
        assert tiny[key] == vith[key], key
    for key in ('type', 'dtype', 'loss_scale'):
        assert tiny.optim_wrapper[key] == vith.optim_wrapper[key], key
    for part in ('backbone', 'neck'):
        assert tiny.model[part].with_cp is True
        assert vith.model[part].with_cp is True


def test_only_tested_strategies_are_shipped():
    configs = glob.glob(osp.join(STRATEGY_DIR, '**', '*.py'), recursive=True)
    assert sorted(osp.relpath(p, STRATEGY_DIR) for p in configs) == [
        osp.join('_base_', 'fsdp_bf16.py'), 'pretrain_vith_fsdp.py'
    ]
    for path in glob.glob(
            osp.join(REPO_ROOT, 'configs', '**', '*.py'), recursive=True):
        with open(path) as f:
            assert 'DeepSpeed' not in f.read(), path


def test_fsdp_wrap_policy_makes_every_block_a_unit():
    cfg = Config.fromfile(VITH_FSDP)
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
