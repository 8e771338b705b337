# Copyright (c) vicmae_mm contributors. All rights reserved.
"""configs/vicmae/released/: the released pretraining setup, resolved and
trained (tiny sizes, real Runner)."""
import os.path as osp

import pytest
import torch
import torch.nn as nn
from mmengine.config import Config
from mmengine.optim import build_optim_wrapper
from mmengine.registry import DefaultScope
from mmengine.runner import Runner
from mmpretrain.registry import MODELS

import vicmae_mm  # noqa: F401
from helpers import REPO_ROOT, TINY_ARCH, TINY_PRETRAIN_CFG, write_images
from vicmae_mm.models.utils.global_batch_norm import GlobalBatchNorm1d
from runner_cli import use_amp

RELEASED = osp.join(REPO_ROOT, 'configs', 'vicmae', 'released')
PRETRAIN = {
    'vicmae-released_vit-base-p16_8xb128-accum4-801e_in1k-k400.py': 768,
    'vicmae-released_vit-large-p16_8xb128-accum4-801e_in1k-k400.py': 1024,
}
B_CONFIG = sorted(PRETRAIN)[0]


@pytest.mark.parametrize('name', sorted(PRETRAIN))
def test_released_pretrain_resolved_values(name):
    cfg = Config.fromfile(osp.join(RELEASED, name))
    # batch geometry: 8 GPUs x 128, 4 accumulation steps
    assert cfg.train_dataloader.batch_size == 128
    assert cfg.train_dataloader.drop_last is True
    assert cfg.optim_wrapper.accumulative_counts == 4
    assert cfg.optim_wrapper.dtype == 'float16'
    assert cfg.auto_scale_lr.base_batch_size == 8 * 128 * 4
    assert cfg.optim_wrapper.optimizer.lr == pytest.approx(1.5e-4 * 4096 /
                                                           256)
    # timm's param_groups_weight_decay, nothing else
    assert cfg.optim_wrapper.paramwise_cfg == dict(
        norm_decay_mult=0.0, bias_decay_mult=0.0, flat_decay_mult=0.0)
    warmup, cosine = cfg.param_scheduler
    assert (warmup.type, warmup.start_factor, warmup.end) == ('LinearLR', 1e-8,
                                                              40)
    assert (cosine.type, cosine.begin, cosine.end, cosine.T_max,
            cosine.eta_min) == ('CosineAnnealingLR', 40, 801, 761, 0.0)
    assert cfg.train_cfg.max_epochs == 801
    with DefaultScope.overwrite_default_scope('mmpretrain'), \
            torch.device('meta'):
        model = MODELS.build(cfg.model)
    assert model.backbone.embed_dims == PRETRAIN[name]
    assert model.backbone.mask_ratio == 0.5
    # per-GPU BatchNorm1d, the projector run once per view
    assert model.projector_per_view
    for bn in (model.projector.bn0, model.projector.bn1):
        assert type(bn) is nn.BatchNorm1d and bn.num_features == 4096
    assert model.contrastive_head.positive_mode == 'local_index'
    assert model.contrastive_head.temperature == 0.1
    assert model.pool_neck.pool_type == 'mean'
    assert model.loss_weights == dict(rec=0.97, nce=0.03)


def test_default_keeps_our_choices():
    cfg = Config.fromfile(
        osp.join(REPO_ROOT, 'configs', 'vicmae', 'pretrain_vitb.py'))
    with DefaultScope.overwrite_default_scope('mmpretrain'), \
            torch.device('meta'):
        model = MODELS.build(cfg.model)
    assert not model.projector_per_view
    assert isinstance(model.projector.bn0, GlobalBatchNorm1d)
    assert model.contrastive_head.positive_mode == 'pair'
    assert cfg.optim_wrapper.get('accumulative_counts', 1) == 1


def _timm_no_decay(model) -> set:
    from timm.optim import param_groups_weight_decay
    names = {id(p): n for n, p in model.named_parameters()}
    groups = param_groups_weight_decay(model, weight_decay=0.05)
    no_decay = [g for g in groups if g['weight_decay'] == 0.0]
    return {names[id(p)] for g in no_decay for p in g['params']}


def test_released_weight_decay_groups_match_timm():
    released = Config.fromfile(osp.join(RELEASED, B_CONFIG))
    cfg = Config.fromfile(TINY_PRETRAIN_CFG)
    with DefaultScope.overwrite_default_scope('mmpretrain'):
        model = MODELS.build(cfg.model)
        wrapper = build_optim_wrapper(
            model,
            dict(type='OptimWrapper',
                 optimizer=released.optim_wrapper.optimizer,
                 paramwise_cfg=released.optim_wrapper.paramwise_cfg))
    names = {id(p): n for n, p in model.named_parameters()}
    no_decay = {
        names[id(p)]
        for g in wrapper.optimizer.param_groups for p in g['params']
        if g['weight_decay'] == 0.0 and p.requires_grad
    }
    assert no_decay == _timm_no_decay(model)
    # the released code decays the tokens (our default does not)
    assert 'backbone.cls_token' not in no_decay
    assert 'neck.mask_token' not in no_decay


def test_released_config_trains_with_accumulation(tmp_path):
    cfg = Config.fromfile(osp.join(RELEASED, B_CONFIG))
    tiny = Config.fromfile(TINY_PRETRAIN_CFG)
    model = cfg.model
    model.backbone.update(arch=dict(TINY_ARCH), img_size=32, patch_size=8)
    model.neck.update(tiny.model.neck)
    model.head.patch_size = 8
    model.pool_neck.in_channels = 32
    model.projector.update(in_channels=32, hid_channels=64, out_channels=16)
    write_images(str(tmp_path / 'images'), num=16)
    tiny.train_dataloader.dataset.data_root = str(tmp_path / 'images')
    cfg.train_dataloader = dict(
        tiny.train_dataloader, drop_last=True, persistent_workers=False)
    cfg.train_cfg.max_epochs = 2  # 2 x 4 iterations = 2 optimizer steps
    cfg.work_dir = str(tmp_path / 'work')
    cfg.env_cfg.dist_cfg = dict(backend='gloo')
    cfg.default_hooks.logger.interval = 1
    use_amp(cfg, False)  # as tools/train.py on a machine without GPU
    runner = Runner.from_cfg(cfg)
    runner.train()
    optimizer = runner.optim_wrapper.optimizer
    assert runner.iter == 8
    steps = {int(s['step']) for s in optimizer.state.values()}
    assert steps == {2}  # one update per 4 iterations
    assert runner.model.projector.bn0.num_batches_tracked.item() == 16
    assert osp.isfile(osp.join(cfg.work_dir, 'epoch_2.pth'))
