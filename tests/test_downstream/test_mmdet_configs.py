# Copyright (c) vicmae_mm contributors. All rights reserved.
"""The full-size mmdet configs: they build, follow the ViTDet recipe, and
the ViT-B Mask R-CNN runs a 1024x1024 forward on CPU."""
import gc
import os.path as osp

import cv2
import numpy as np
import pytest
import torch
from mmcv.transforms import Compose
from mmengine.config import Config
from mmengine.dataset import pseudo_collate
from mmengine.optim import build_optim_wrapper
from mmengine.registry import DefaultScope

import vicmae_mm  # noqa: F401
from helpers import REPO_ROOT
from vicmae_mm.models.downstream.detection import (SimpleFeaturePyramid,
                                                   ViTDet)

CFG_DIR = osp.join(REPO_ROOT, 'configs', 'vicmae', 'benchmarks', 'mmdet')
VITB = osp.join(
    CFG_DIR,
    'mask-rcnn_vit-base-p16_vicmae-pre_16xb4-lsj-100e_coco-instance.py')
VITL = osp.join(
    CFG_DIR,
    'mask-rcnn_vit-large-p16_vicmae-pre_16xb4-lsj-100e_coco-instance.py')
RETINANET = osp.join(
    CFG_DIR, 'retinanet_vit-base-p16_vicmae-pre_16xb4-lsj-100e_coco.py')


def build(cfg: Config):
    from mmdet.registry import MODELS
    with DefaultScope.overwrite_default_scope('mmdet'):
        return MODELS.build(cfg.model)


def backbone_lr(cfg: Config, model, name: str) -> float:
    optim = cfg.optim_wrapper.copy()
    optim.update(type='OptimWrapper')
    optim.pop('loss_scale')
    with DefaultScope.overwrite_default_scope('mmdet'):
        wrapper = build_optim_wrapper(model, optim)
    for group in wrapper.optimizer.param_groups:
        if group['param_name'] == name:
            return group['lr']
    raise KeyError(name)


def check_recipe(cfg: Config) -> None:
    """What both Mask R-CNN configs share: LSJ 1024, 100 epochs, AdamW."""
    assert cfg.default_scope == 'mmdet'
    assert cfg.custom_imports.imports == ['vicmae_mm']
    init = cfg.model.backbone.init_cfg
    assert init.type == 'Pretrained' and init.prefix == 'backbone.'
    train = cfg.train_dataloader
    pipeline = {t.type: t for t in train.dataset.dataset.pipeline}
    assert pipeline['RandomResize'].scale == (1024, 1024)
    assert pipeline['RandomResize'].ratio_range == (0.1, 2.0)
    assert pipeline['RandomCrop'].crop_size == (1024, 1024)
    assert train.dataset.times * cfg.train_cfg.max_epochs == 100
    assert cfg.model.data_preprocessor.batch_augments[0].size == (1024, 1024)
    optim = cfg.optim_wrapper
    assert optim.type == 'AmpOptimWrapper'
    assert optim.optimizer.type == 'AdamW'
    assert optim.optimizer.lr == 1e-4 and optim.optimizer.weight_decay == 0.1
    assert cfg.val_evaluator.metric == ['bbox', 'segm']


@pytest.fixture(scope='module')
def vitb():
    cfg = Config.fromfile(VITB)
    model = build(cfg).eval()
    yield cfg, model
    del model
    gc.collect()


def test_vitb_config_recipe(vitb):
    cfg, model = vitb
    check_recipe(cfg)
    backbone = model.backbone
    assert isinstance(backbone, ViTDet)
    assert (backbone.embed_dims, backbone.num_layers) == (768, 12)
    assert backbone.global_attn_indexes == (2, 5, 8, 11)
    assert [b.window_size for b in backbone.layers] == \
        [0 if i in (2, 5, 8, 11) else 14 for i in range(12)]
    assert backbone.patch_resolution == (64, 64)
    assert backbone.layers[-1].drop_path.drop_prob == pytest.approx(0.1)
    assert isinstance(model.neck, SimpleFeaturePyramid)
    assert model.neck.scale_factors == (4.0, 2.0, 1.0, 0.5)
    assert type(model.roi_head.bbox_head).__name__ == 'Shared4Conv1FCBBoxHead'
    assert model.rpn_head.num_convs == 2
    assert cfg.optim_wrapper.paramwise_cfg.layer_decay_rate == 0.7
    # layer decay: patch embedding at lr x 0.7^13, heads at lr
    assert backbone_lr(cfg, model, 'backbone.patch_embed.projection.weight') \
        == pytest.approx(1e-4 * 0.7**13)
    assert backbone_lr(cfg, model, 'backbone.layers.11.attn.qkv.weight') \
        == pytest.approx(1e-4 * 0.7)


def test_vitb_forward_1024_on_cpu(vitb, tmp_path):
    """One 800x600 image through the config's test pipeline (resize to
    1024, pad to 1024x1024) and the full-size model, in inference mode."""
    cfg, model = vitb
    img_path = str(tmp_path / 'street.jpg')
    rng = np.random.default_rng(0)
    cv2.imwrite(img_path, rng.integers(0, 255, (600, 800, 3), np.uint8))
    with DefaultScope.overwrite_default_scope('mmdet'):
        pipeline = Compose(cfg.test_pipeline)
        data = pipeline(dict(img_path=img_path, img_id=0, instances=[]))
    assert tuple(data['inputs'].shape) == (3, 1024, 1024)

    # keep a few boxes whatever their score, so the mask head runs too
    model.test_cfg.rcnn.update(score_thr=0.0, max_per_img=5)
    levels = []
    hook = model.neck.register_forward_hook(
        lambda mod, args, out: levels.extend(o.shape for o in out))
    try:
        with torch.no_grad():
            result = model.test_step(pseudo_collate([data]))[0]
    finally:
        hook.remove()
    assert [tuple(s[-2:]) for s in levels] == [(256, 256), (128, 128),
                                              (64, 64), (32, 32), (16, 16)]
    pred = result.pred_instances
    assert pred.bboxes.shape == (5, 4) and torch.isfinite(pred.bboxes).all()
    assert pred.masks.shape == (5, 600, 800)  # pasted back to the image
    assert ((pred.scores >= 0) & (pred.scores <= 1)).all()


def test_vitl_config_builds():
    cfg = Config.fromfile(VITL)
    check_recipe(cfg)
    assert cfg.optim_wrapper.paramwise_cfg.layer_decay_rate == 0.8
    model = build(cfg)
    backbone = model.backbone
    assert (backbone.embed_dims, backbone.num_layers) == (1024, 24)
    assert backbone.global_attn_indexes == (5, 11, 17, 23)
    assert backbone.layers[-1].drop_path.drop_prob == pytest.approx(0.4)
    assert model.neck.in_channels == 1024
    assert backbone_lr(cfg, model, 'backbone.pos_embed') == \
        pytest.approx(1e-4 * 0.8**25)
    del model
    gc.collect()


def test_retinanet_example_drops_in():
    """Backbone and neck in a stock mmdet RetinaNet: pyramid strides match
    its anchors and a (small) forward runs end to end."""
    cfg = Config.fromfile(RETINANET)
    assert cfg.custom_imports.imports == ['vicmae_mm']
    model = build(cfg).eval()
    assert type(model).__name__ == 'RetinaNet'
    strides = [s[0] for s in model.bbox_head.prior_generator.strides]
    assert strides == [8, 16, 32, 64, 128]
    levels = model.neck(torch.zeros(1, 768, 16, 16))
    assert [16 * 16 // o.shape[-1] for o in levels] == strides
    from mmdet.structures import DetDataSample
    sample = DetDataSample(
        metainfo=dict(
            img_shape=(256, 256), ori_shape=(256, 256), scale_factor=(1., 1.)))
    data = dict(
        inputs=[torch.randint(0, 255, (3, 256, 256), dtype=torch.uint8)],
        data_samples=[sample])
    with torch.no_grad():
        result = model.test_step(data)[0]
    assert result.pred_instances.bboxes.shape[1] == 4
    del model
    gc.collect()
