# Copyright (c) vicmae_mm contributors. All rights reserved.
"""The pretraining checkpoint fine-tuned as a (tiny) ViTDet Mask R-CNN with
a real mmengine Runner, evaluated with mmdet's CocoMetric (bbox + segm)."""
import importlib
import json
import logging
import math
import os
import os.path as osp
import re

import cv2
import mmcv.ops
import numpy as np
import pytest
import torch
from mmengine.config import Config
from mmengine.hooks import Hook
from mmengine.optim import build_optim_wrapper
from mmengine.registry import DefaultScope
from mmengine.runner import Runner
from mmengine.runner.checkpoint import _load_checkpoint_with_prefix

import vicmae_mm  # noqa: F401
from helpers import REPO_ROOT, TINY_ARCH, TINY_PATCH

VITB_CFG = osp.join(
    REPO_ROOT, 'configs', 'vicmae', 'benchmarks', 'mmdet',
    'mask-rcnn_vit-base-p16_vicmae-pre_16xb4-lsj-100e_coco-instance.py')
CLASSES = ('square', 'triangle')
IMG = 64
EXPECTED_MISSING = {
    f'layers.{i}.attn.rel_pos_{axis}'
    for i in range(TINY_ARCH['num_layers']) for axis in 'hw'
}
EXPECTED_UNEXPECTED = {'cls_token', 'ln1.weight', 'ln1.bias'}


def write_coco(root: str, split: str, num: int, seed: int) -> str:
    """Write ``num`` 64 px images with squares and triangles and their
    COCO annotations (boxes, polygon masks); returns the json path."""
    rng = np.random.default_rng(seed)
    folder = osp.join(root, split)
    os.makedirs(folder, exist_ok=True)
    images, anns = [], []
    for i in range(num):
        yy, xx = np.mgrid[0:IMG, 0:IMG]
        img = np.stack([xx * 2, yy * 2, np.full_like(xx, 60)],
                       -1).astype(np.uint8)
        for _ in range(int(rng.integers(1, 3))):
            label = int(rng.integers(0, 2))
            size = int(rng.integers(14, 26))
            x0, y0 = (int(v) for v in rng.integers(2, IMG - size - 2, 2))
            if label == 0:
                poly = [(x0, y0), (x0 + size, y0), (x0 + size, y0 + size),
                        (x0, y0 + size)]
                colour = (40, 40, 230)
            else:
                poly = [(x0 + size // 2, y0), (x0 + size, y0 + size),
                        (x0, y0 + size)]
                colour = (40, 230, 40)
            pts = np.array(poly, np.int32)
            cv2.fillPoly(img, [pts], colour)
            x, y, w, h = cv2.boundingRect(pts)
            anns.append(
                dict(
                    id=len(anns) + 1,
                    image_id=i + 1,
                    category_id=label + 1,
                    bbox=[x, y, w, h],
                    area=float(cv2.contourArea(pts)),
                    segmentation=[[float(c) for p in poly for c in p]],
                    iscrowd=0))
        name = f'{split}_{i:03d}.png'
        cv2.imwrite(osp.join(folder, name), img)
        images.append(
            dict(id=i + 1, file_name=name, width=IMG, height=IMG))
    ann_file = osp.join(root, f'{split}.json')
    with open(ann_file, 'w') as f:
        json.dump(
            dict(
                images=images,
                annotations=anns,
                categories=[
                    dict(id=k + 1, name=c) for k, c in enumerate(CLASSES)
                ]), f)
    return ann_file


def tiny_mask_rcnn_cfg(ckpt: str, root: str) -> Config:
    """The full ViT-B Mask R-CNN config with only sizes and data changed."""
    cfg = Config.fromfile(VITB_CFG)
    ch = 16
    model = cfg.model
    model.data_preprocessor.batch_augments[0].size = (IMG, IMG)
    model.backbone.update(
        arch=TINY_ARCH,
        img_size=(IMG, IMG),
        patch_size=TINY_PATCH,
        window_size=4,
        global_attn_indexes=(1, ))
    model.backbone.init_cfg.checkpoint = ckpt
    # patch 8: pyramid at strides 4, 8, 16 (+ 32, 64 pooled) as Mask R-CNN
    model.neck.update(
        in_channels=TINY_ARCH['embed_dims'],
        out_channels=ch,
        scale_factors=(2.0, 1.0, 0.5))
    model.rpn_head.update(in_channels=ch, feat_channels=ch)
    roi = model.roi_head
    roi.bbox_roi_extractor.out_channels = ch
    roi.mask_roi_extractor.out_channels = ch
    roi.bbox_head.update(
        in_channels=ch, conv_out_channels=ch, fc_out_channels=32,
        num_classes=len(CLASSES))
    roi.mask_head.update(
        in_channels=ch, conv_out_channels=ch, num_classes=len(CLASSES))
    model.train_cfg.rpn.sampler.num = 64
    model.train_cfg.rpn_proposal.update(nms_pre=200, max_per_img=100)
    model.train_cfg.rcnn.sampler.num = 64
    model.test_cfg.rpn.update(nms_pre=200, max_per_img=100)

    metainfo = dict(classes=CLASSES)
    train = cfg.train_dataloader
    train.update(batch_size=2, num_workers=0, persistent_workers=False)
    train.dataset.times = 1
    train.dataset.dataset.update(
        data_root=root,
        ann_file='train.json',
        data_prefix=dict(img='train/'),
        metainfo=metainfo)
    for t in train.dataset.dataset.pipeline:
        if t.type == 'RandomResize':
            t.update(scale=(IMG, IMG), ratio_range=(0.8, 1.25))
        elif t.type == 'RandomCrop':
            t.crop_size = (IMG, IMG)
    test_pipeline = cfg.test_pipeline
    for t in test_pipeline:
        if t.type in ('Resize', 'Pad'):
            t[('scale' if t.type == 'Resize' else 'size')] = (IMG, IMG)
    for name in ('val_dataloader', 'test_dataloader'):
        loader = cfg[name]
        loader.update(num_workers=0, persistent_workers=False)
        loader.dataset.update(
            data_root=root,
            ann_file='val.json',
            data_prefix=dict(img='val/'),
            metainfo=metainfo,
            pipeline=test_pipeline)
    for name in ('val_evaluator', 'test_evaluator'):
        cfg[name].update(
            ann_file=osp.join(root, 'val.json'),
            outfile_prefix=osp.join(root, 'work', name))

    cfg.train_cfg.update(max_epochs=1, val_interval=1)
    cfg.default_hooks.logger.interval = 1
    cfg.work_dir = osp.join(root, 'work')
    cfg.randomness = dict(seed=0)
    cfg.env_cfg.dist_cfg = dict(backend='gloo')
    cfg.visualizer.vis_backends = [dict(type='LocalVisBackend')]
    return cfg


def fp32_on_cpu(cfg: Config) -> None:
    """Swap the config's GPU AmpOptimWrapper for a float32 one."""
    assert cfg.optim_wrapper.type == 'AmpOptimWrapper'
    cfg.optim_wrapper.type = 'OptimWrapper'
    cfg.optim_wrapper.pop('loss_scale')


class KeyLogCapture(logging.Handler):
    """Collects mmengine's missing/unexpected key reports."""

    def __init__(self):
        super().__init__(level=logging.DEBUG)
        self.keys = dict(missing=set(), unexpected=set())

    def emit(self, record):
        for line in record.getMessage().splitlines():
            m = re.match(r'(missing|unexpected) keys? in source state_dict: '
                         r'(.*)$', line)
            if m:
                self.keys[m.group(1)] |= {
                    k.strip()
                    for k in m.group(2).split(',')
                }


class SnapshotBeforeTrain(Hook):
    """Copies one pretrained-loaded weight once weights are initialised."""

    def __init__(self):
        self.qkv = None

    def before_train(self, runner):
        self.qkv = runner.model.backbone.layers[0].attn.qkv.weight.detach(
        ).clone()


def test_mask_rcnn_finetune_and_coco_eval(tiny_pretrain_ckpt, tmp_path):
    root = str(tmp_path)
    write_coco(root, 'train', num=8, seed=0)
    write_coco(root, 'val', num=4, seed=1)
    cfg = tiny_mask_rcnn_cfg(tiny_pretrain_ckpt, root)
    # fp32 on CPU: mmcv's CPU nms / RoIAlign kernels take float32 only, so
    # the config's AMP (fp16 on GPU) cannot become bf16 autocast here
    fp32_on_cpu(cfg)
    runner = Runner.from_cfg(cfg)
    capture = KeyLogCapture()
    runner.logger.addHandler(capture)
    snapshot = SnapshotBeforeTrain()
    runner.register_hook(snapshot)
    try:
        runner.train()
        metrics = runner.test()
    finally:
        runner.logger.removeHandler(capture)

    # the checkpoint reached the backbone through init_cfg, exact key sets
    assert capture.keys['missing'] == EXPECTED_MISSING
    assert capture.keys['unexpected'] == EXPECTED_UNEXPECTED
    ckpt = _load_checkpoint_with_prefix('backbone.', tiny_pretrain_ckpt)
    torch.testing.assert_close(snapshot.qkv,
                               ckpt['layers.0.attn.qkv.weight'])
    # ... and was fine-tuned from there
    assert not torch.equal(
        runner.model.backbone.layers[0].attn.qkv.weight, snapshot.qkv)

    # mmcv's compiled ops did the RoI pooling and NMS
    roi_layer = runner.model.roi_head.bbox_roi_extractor.roi_layers[0]
    assert type(roi_layer) is mmcv.ops.RoIAlign
    assert not roi_layer.use_torchvision
    for module, op in (('roi_align', 'roi_align_forward'), ('nms', 'nms')):
        ext = importlib.import_module(f'mmcv.ops.{module}').ext_module
        assert hasattr(ext, op), f'mmcv built without {op}'

    # trained: finite losses logged, checkpoint written
    scalars = runner.message_hub.log_scalars
    for key in ('train/loss_rpn_cls', 'train/loss_cls', 'train/loss_mask'):
        assert math.isfinite(scalars[key].current()), key
    assert osp.isfile(osp.join(cfg.work_dir, 'epoch_1.pth'))

    # evaluated: detections and masks were produced and scored
    for task in ('bbox', 'segm'):
        with open(osp.join(root, 'work', f'test_evaluator.{task}.json')) as f:
            dets = json.load(f)
        assert len(dets) > 0, f'no {task} predictions'
        for suffix in ('mAP', 'mAP_50', 'mAP_75', 'mAP_s'):
            value = metrics[f'coco/{task}_{suffix}']
            assert isinstance(value, float) and 0.0 <= value <= 1.0, (
                task, suffix, value)


def test_layer_decay_optimizer_of_the_config(tmp_path):
    """The ViT-B config's optimizer on a tiny detector: lr x 0.7 per block
    from the top, no weight decay on norms and pos_embed."""
    root = str(tmp_path)
    cfg = tiny_mask_rcnn_cfg('unused.pth', root)
    from mmdet.registry import MODELS
    with DefaultScope.overwrite_default_scope('mmdet'):
        model = MODELS.build(cfg.model)
        fp32_on_cpu(cfg)
        wrapper = build_optim_wrapper(model, cfg.optim_wrapper)
    groups = {
        g['param_name']: g
        for g in wrapper.optimizer.param_groups
    }
    names = {n for n, p in model.named_parameters() if p.requires_grad}
    assert set(groups) == names  # every trainable parameter, once
    lr, rate, depths = 1e-4, 0.7, TINY_ARCH['num_layers'] + 2
    expect_lr = {
        'backbone.pos_embed': lr * rate**(depths - 1),
        'backbone.patch_embed.projection.weight': lr * rate**(depths - 1),
        'backbone.layers.0.attn.qkv.weight': lr * rate**(depths - 2),
        'backbone.layers.1.ffn.layers.1.weight': lr * rate**(depths - 3),
        'neck.lateral_convs.0.conv.weight': lr,
        'roi_head.mask_head.conv_logits.weight': lr,
    }
    for name, value in expect_lr.items():
        assert groups[name]['lr'] == pytest.approx(value), name
    assert groups['backbone.pos_embed']['weight_decay'] == 0.
    assert groups['backbone.layers.0.ln1.weight']['weight_decay'] == 0.
    assert groups['neck.lateral_convs.0.ln.weight']['weight_decay'] == 0.
    assert groups['backbone.layers.0.attn.qkv.weight']['weight_decay'] == \
        pytest.approx(0.1)


def test_layer_decay_needs_a_backbone_with_depths():
    from mmdet.registry import OPTIM_WRAPPER_CONSTRUCTORS

    class NoDepths(torch.nn.Module):

        def __init__(self):
            super().__init__()
            self.backbone = torch.nn.Linear(2, 2)

    with DefaultScope.overwrite_default_scope('mmdet'):
        constructor = OPTIM_WRAPPER_CONSTRUCTORS.build(
            dict(
                type='BackboneLayerDecayOptimWrapperConstructor',
                optim_wrapper_cfg=dict(
                    optimizer=dict(type='AdamW', lr=1e-4,
                                   weight_decay=0.1)),
                paramwise_cfg=dict(layer_decay_rate=0.7)))
        with pytest.raises(TypeError, match='get_layer_depth'):
            constructor(NoDepths())
