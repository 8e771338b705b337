# Copyright (c) vicmae_mm contributors. All rights reserved.
"""The released S/B/L/H pretraining configs build with the released recipe."""
import os.path as osp

import pytest
import torch
from mmengine.config import Config
from mmengine.registry import DefaultScope
from mmpretrain.registry import MODELS

import vicmae_mm  # noqa: F401
from helpers import REPO_ROOT

# (config, embed dims, depth, heads, patch, decoder width, timm-equal count)
ARCHS = {
    'pretrain_vits.py': (384, 12, 6, 16, 256),
    'pretrain_vitb.py': (768, 12, 12, 16, 512),
    'pretrain_vitl.py': (1024, 24, 16, 16, 512),
    'pretrain_vith.py': (1280, 32, 16, 14, 512),
}


def _count(module):
    return sum(p.numel() for p in module.parameters())


@pytest.mark.parametrize('name', sorted(ARCHS))
def test_config_builds_with_released_recipe(name):
    import timm
    dims, depth, heads, patch, dec = ARCHS[name]
    cfg = Config.fromfile(osp.join(REPO_ROOT, 'configs', 'vicmae', name))
    with DefaultScope.overwrite_default_scope('mmpretrain'), \
            torch.device('meta'):
        model = MODELS.build(cfg.model)
        reference = timm.models.vision_transformer.VisionTransformer(
            img_size=224, patch_size=patch, embed_dim=dims, depth=depth,
            num_heads=heads, num_classes=0)
    backbone = model.backbone
    assert backbone.embed_dims == dims and len(backbone.layers) == depth
    assert backbone.mask_ratio == 0.5
    # encoder parameter count equals the standard ViT (timm, no head)
    assert _count(backbone) == _count(reference)
    assert model.neck.decoder_embed.out_features == dec
    assert len(model.neck.decoder_blocks) == 8
    assert model.projector.fc0.out_features == 4096
    assert model.projector.fc2.out_features == 128
    assert model.pool_neck.pool_type == 'mean'
    assert model.contrastive_head.temperature == 0.1
    assert model.loss_weights == dict(rec=0.97, nce=0.03)
    assert model.head.norm_pix
    # recipe
    optim = cfg.optim_wrapper
    assert optim.type == 'AmpOptimWrapper'
    assert optim.optimizer.type == 'AdamW'
    assert optim.optimizer.betas == (0.9, 0.95)
    assert optim.optimizer.weight_decay == 0.05
    assert optim.optimizer.lr == pytest.approx(1.5e-4 * 4096 / 256)
    assert cfg.auto_scale_lr.base_batch_size == 4096
    assert cfg.train_cfg.max_epochs == 800
    warmup, cosine = cfg.param_scheduler
    assert (warmup.type, warmup.end) == ('LinearLR', 40)
    assert (cosine.type, cosine.begin, cosine.end) == ('CosineAnnealingLR',
                                                         40, 800)
    assert warmup.convert_to_iter_based and cosine.convert_to_iter_based
    assert cfg.train_dataloader.batch_size * 64 == 4096


def test_vitl_encoder_is_303m():
    cfg = Config.fromfile(
        osp.join(REPO_ROOT, 'configs', 'vicmae', 'pretrain_vitl.py'))
    with DefaultScope.overwrite_default_scope('mmpretrain'), \
            torch.device('meta'):
        model = MODELS.build(cfg.model)
    assert round(_count(model.backbone) / 1e6) == 303


def test_no_weight_decay_on_norms_biases_tokens():
    from mmengine.optim import build_optim_wrapper
    cfg = Config.fromfile(osp.join(REPO_ROOT, 'tests', 'configs',
                                   'pretrain_tiny.py'))
    base = Config.fromfile(
        osp.join(REPO_ROOT, 'configs', '_base_', 'schedules',
                 'adamw_800e_warmup40.py'))
    with DefaultScope.overwrite_default_scope('mmpretrain'):
        model = MODELS.build(cfg.model)
        optim_cfg = base.optim_wrapper.to_dict()
        optim_cfg['type'] = 'OptimWrapper'
        optim_cfg.pop('loss_scale')
        wrapper = build_optim_wrapper(model, optim_cfg)
    names = {id(p): n for n, p in model.named_parameters()}
    for group in wrapper.optimizer.param_groups:
        for p in group['params']:
            name = names[id(p)]
            if not p.requires_grad:  # fixed sin-cos embeddings
                continue
            no_decay = (p.ndim == 1 or 'token' in name or 'pos_embed' in name)
            assert group['weight_decay'] == (0.0 if no_decay else 0.05), name
