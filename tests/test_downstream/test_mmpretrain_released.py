# Copyright (c) vicmae_mm contributors. All rights reserved.
"""The released fine-tune setup (cls token after the pretrained norm):
resolved values, exact key sets and a short real training run."""
import os.path as osp

import pytest
import torch
from mmengine.config import Config
from mmengine.registry import DefaultScope
from mmengine.runner import Runner
from mmpretrain.registry import MODELS

import vicmae_mm  # noqa: F401
from helpers import REPO_ROOT
# image_folders: the benchmark tests' fixture, shared here
from test_mmpretrain_benchmarks import (image_folders,  # noqa: F401
                                        load_report, tiny_config)

RELEASED = osp.join(REPO_ROOT, 'configs', 'vicmae', 'released')
FINETUNE = {
    'vit-base-p16_vicmae-released-pre_8xb128-coslr-100e_in1k.py':
    (768, 'vit-base'),
    'vit-large-p16_vicmae-released-pre_8xb128-coslr-100e_in1k.py':
    (1024, 'vit-large'),
}


@pytest.mark.parametrize('name', sorted(FINETUNE))
def test_released_finetune_resolved_values(name):
    dims, arch = FINETUNE[name]
    cfg = Config.fromfile(osp.join(RELEASED, name))
    backbone = cfg.model.backbone
    assert backbone.out_type == 'cls_token' and backbone.final_norm
    assert backbone.init_cfg.checkpoint == (
        f'work_dirs/vicmae-released_{arch}-p16_8xb128-accum4-801e_in1k-k400'
        '/epoch_801.pth')
    assert osp.isfile(
        osp.join(RELEASED,
                 osp.basename(osp.dirname(backbone.init_cfg.checkpoint)) +
                 '.py'))
    # scripts/finetune_imagenet_vicmae_{base,large}.sh
    assert cfg.train_dataloader.batch_size == 128
    assert cfg.train_cfg.max_epochs == 100
    assert cfg.optim_wrapper.optimizer.lr == pytest.approx(5e-4 * 1024 / 256)
    assert cfg.optim_wrapper.optimizer.weight_decay == 0.05
    assert cfg.optim_wrapper.paramwise_cfg.layer_decay_rate == 0.65
    assert cfg.model.backbone.drop_path_rate == 0.1
    with DefaultScope.overwrite_default_scope('mmpretrain'), \
            torch.device('meta'):
        model = MODELS.build(cfg.model)
    assert model.backbone.embed_dims == dims
    assert not hasattr(model.backbone, 'ln2')  # no new norm
    assert model.head.fc.in_features == dims


def test_released_finetune_loads_everything_and_trains(
        tiny_pretrain_ckpt, image_folders, tmp_path):
    name = osp.join('..', '..', 'released', sorted(FINETUNE)[0])
    cfg = tiny_config(name, tiny_pretrain_ckpt, str(tmp_path / 'work'),
                      image_folders)
    cfg.train_cfg.max_epochs = 1
    runner = Runner.from_cfg(cfg)
    runner.train()
    with open(osp.join(runner.log_dir, f'{runner.timestamp}.log')) as f:
        assert load_report(f.read(), tiny_pretrain_ckpt) == (set(), set())
    metrics = runner.val()
    assert 0.0 <= metrics['accuracy/top1'] <= 100.0
    assert runner.model.backbone.out_type == 'cls_token'
