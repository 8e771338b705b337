# Copyright (c) vicmae_mm contributors. All rights reserved.
"""Every full-size mmpretrain benchmark config builds, with its recipe.

Models are built on the meta device (no memory, no data, no checkpoint).
"""
import glob
import os.path as osp

import pytest
import torch
from mmengine.config import Config
from mmengine.registry import DefaultScope
from mmpretrain.registry import MODELS

import vicmae_mm  # noqa: F401
from helpers import REPO_ROOT

CONFIG_DIR = osp.join(REPO_ROOT, 'configs', 'vicmae', 'benchmarks',
                      'mmpretrain')
# name -> (embed dims, depth, num classes, pretraining work dir)
CONFIGS = {
    'vit-base-p16_8xb128-coslr-100e_in1k.py': (768, 12, 1000, 'vitb'),
    'vit-large-p16_8xb128-coslr-100e_in1k.py': (1024, 24, 1000, 'vitl'),
    'vit-base-p16_8xb2048-linear-coslr-90e_in1k.py': (768, 12, 1000, 'vitb'),
    'vit-large-p16_8xb2048-linear-coslr-90e_in1k.py': (1024, 24, 1000, 'vitl'),
    'vit-base-p16_8xb128-coslr-100e_places365.py': (768, 12, 365, 'vitb'),
    'vit-large-p16_8xb128-coslr-100e_places365.py': (1024, 24, 365, 'vitl'),
}


def test_every_config_is_listed():
    found = {osp.basename(p) for p in glob.glob(osp.join(CONFIG_DIR, '*.py'))}
    assert found == set(CONFIGS)


def _build(cfg):
    model_cfg = cfg.model.copy()
    # what Runner.from_cfg does with the top-level data_preprocessor
    model_cfg.setdefault('data_preprocessor', cfg.get('data_preprocessor'))
    with DefaultScope.overwrite_default_scope(cfg.default_scope), \
            torch.device('meta'):
        return MODELS.build(model_cfg)


@pytest.mark.parametrize('name', sorted(CONFIGS))
def test_config_builds(name):
    dims, depth, num_classes, arch = CONFIGS[name]
    cfg = Config.fromfile(osp.join(CONFIG_DIR, name))
    assert cfg.default_scope == 'mmpretrain'
    assert cfg.custom_imports == dict(imports=['vicmae_mm'],
                                      allow_failed_imports=False)
    assert {'type': 'WeightsOnlyCheckpointHook'} in cfg.custom_hooks

    init = cfg.model.backbone.init_cfg
    assert init.type == 'Pretrained' and init.prefix == 'backbone.'
    assert init.checkpoint == f'work_dirs/pretrain_{arch}/epoch_800.pth'

    model = _build(cfg)
    backbone = model.backbone
    assert type(backbone).__name__ == 'VisionTransformer'
    assert backbone.embed_dims == dims and len(backbone.layers) == depth
    assert backbone.patch_embed.projection.kernel_size == (16, 16)
    assert model.head.num_classes == num_classes
    assert cfg.data_preprocessor.num_classes == num_classes
    # pooled patch tokens after the pretrained final norm (see docs)
    assert backbone.final_norm and hasattr(backbone, 'ln1')
    if 'linear' in name:
        assert backbone.out_type == 'featmap'
        assert type(model.neck[0]).__name__ == 'GlobalAveragePooling'
        assert type(model.neck[1]).__name__ == 'ClsBatchNormNeck'
        assert model.neck[1].bn.num_features == dims
        assert not model.neck[1].bn.affine
    else:
        assert backbone.out_type == 'avg_featmap'
        assert model.head.fc.in_features == dims


@pytest.mark.parametrize('name',
                         [n for n in sorted(CONFIGS) if 'linear' not in n])
def test_finetune_recipe(name):
    cfg = Config.fromfile(osp.join(CONFIG_DIR, name))
    model = _build(cfg)
    # effective batch 1024 on 8 GPUs, 100 epochs
    assert cfg.train_dataloader.batch_size * 8 == 1024
    assert cfg.auto_scale_lr.base_batch_size == 1024
    assert cfg.train_cfg.max_epochs == 100
    optim = cfg.optim_wrapper
    assert optim.constructor == 'LearningRateDecayOptimWrapperConstructor'
    assert optim.paramwise_cfg.layer_decay_rate == 0.65
    assert optim.optimizer.type == 'AdamW'
    assert optim.optimizer.lr == pytest.approx(5e-4 * 1024 / 256)
    assert optim.optimizer.weight_decay == 0.05
    warmup, cosine = cfg.param_scheduler
    assert (warmup.type, warmup.begin, warmup.end) == ('LinearLR', 0, 5)
    assert (cosine.type, cosine.begin, cosine.end,
            cosine.eta_min) == ('CosineAnnealingLR', 5, 100, 1e-6)
    # drop path 0.1: the last block's rate
    assert model.backbone.layers[-1].attn.out_drop.drop_prob == \
        pytest.approx(0.1)
    assert cfg.model.head.loss == dict(type='LabelSmoothLoss',
                                       label_smooth_val=0.1,
                                       mode='original')
    assert cfg.model.train_cfg.augments == [
        dict(type='Mixup', alpha=0.8),
        dict(type='CutMix', alpha=1.0)
    ]
    steps = {t.type: t for t in cfg.train_dataloader.dataset.pipeline}
    rand = steps['RandAugment']
    assert (rand.policies, rand.magnitude_level,
            rand.magnitude_std) == ('timm_increasing', 9, 0.5)
    assert steps['RandomErasing'].erase_prob == 0.25


@pytest.mark.parametrize('name', [n for n in sorted(CONFIGS) if 'linear' in n])
def test_linear_probe_recipe(name):
    dims, depth = CONFIGS[name][:2]
    cfg = Config.fromfile(osp.join(CONFIG_DIR, name))
    model = _build(cfg)
    assert cfg.model.backbone.frozen_stages == depth
    assert not any(p.requires_grad for p in model.backbone.parameters())
    assert cfg.optim_wrapper.optimizer.type == 'LARS'
    assert cfg.optim_wrapper.optimizer.lr == pytest.approx(0.1 * 16384 / 256)
    assert cfg.train_dataloader.batch_size * 8 == 16384
    assert cfg.train_cfg.max_epochs == 90
    trainable = {n for n, p in model.named_parameters() if p.requires_grad}
    assert trainable == {'head.layers.head.weight', 'head.layers.head.bias'}


def test_places365_data_layout():
    cfg = Config.fromfile(
        osp.join(CONFIG_DIR, 'vit-base-p16_8xb128-coslr-100e_places365.py'))
    train, val = cfg.train_dataloader.dataset, cfg.val_dataloader.dataset
    assert train.type == val.type == 'CustomDataset'
    assert (train.data_root, train.ann_file,
            train.data_prefix) == ('data/places365', 'meta/train.txt',
                                   'data_256')
    assert (val.ann_file, val.data_prefix) == ('meta/val.txt', 'val_256')
    # same augmentation as the ImageNet recipe
    in1k = Config.fromfile(
        osp.join(CONFIG_DIR, 'vit-base-p16_8xb128-coslr-100e_in1k.py'))

    def steps(pipeline):  # `_scope_` is added by mmpretrain:: inheritance
        return [{
            k: v
            for k, v in t.items() if k != '_scope_'
        } for t in pipeline]

    assert steps(train.pipeline) == steps(
        in1k.train_dataloader.dataset.pipeline)
    assert steps(val.pipeline) == steps(in1k.val_dataloader.dataset.pipeline)
