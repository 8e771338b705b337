# Copyright (c) vicmae_mm contributors. All rights reserved.
"""The pretraining checkpoint feeds mmpretrain's classifiers directly.

The real benchmark configs are run with a real mmengine Runner on a tiny
class-per-folder image set; only sizes and data paths change (the tiny
architecture of the ``tiny_pretrain_ckpt`` fixture).
"""
import os.path as osp
import re
from typing import Optional, Set, Tuple

import pytest
import torch
from mmengine.config import Config
from mmengine.hooks import Hook
from mmengine.logging import MMLogger
from mmengine.registry import DefaultScope
from mmengine.runner import Runner
from mmengine.runner.checkpoint import load_checkpoint
from mmpretrain.registry import MODELS

import vicmae_mm  # noqa: F401
from helpers import (REPO_ROOT, TINY_ARCH, TINY_IMG, TINY_PATCH,
                     TINY_PRETRAIN_CFG, write_images)
from vicmae_mm.utils import safe_torch_load
from runner_cli import use_amp

CONFIG_DIR = osp.join(REPO_ROOT, 'configs', 'vicmae', 'benchmarks',
                      'mmpretrain')
FINETUNE = 'vit-base-p16_8xb128-coslr-100e_in1k.py'
LINEAR = 'vit-base-p16_8xb2048-linear-coslr-90e_in1k.py'
NUM_CLASSES = 3
DIMS = TINY_ARCH['embed_dims']


@pytest.fixture(scope='module')
def image_folders(tmp_path_factory) -> Tuple[str, str]:
    """Train/val class-per-folder PNG sets (3 classes)."""
    root = tmp_path_factory.mktemp('cls_images')
    for split, per_class, seed in (('train', 6, 0), ('val', 3, 100)):
        for c in range(NUM_CLASSES):
            write_images(str(root / split / f'class_{c}'),
                         num=per_class,
                         seed=seed + c)
    return str(root / 'train'), str(root / 'val')


def _resize_pipeline(pipeline):
    for step in pipeline:
        if step['type'] == 'RandomResizedCrop':
            step['scale'] = TINY_IMG
        elif step['type'] == 'ResizeEdge':
            step['scale'] = TINY_IMG + 4
        elif step['type'] == 'CenterCrop':
            step['crop_size'] = TINY_IMG
    return pipeline


def tiny_config(name: str,
                ckpt: str,
                work_dir: Optional[str] = None,
                folders: Optional[Tuple[str, str]] = None) -> Config:
    """A benchmark config with the tiny encoder and tiny data."""
    cfg = Config.fromfile(osp.join(CONFIG_DIR, name))
    backbone = cfg.model.backbone
    backbone.update(arch=dict(TINY_ARCH),
                    img_size=TINY_IMG,
                    patch_size=TINY_PATCH)
    if backbone.get('frozen_stages', -1) > 0:
        backbone.frozen_stages = TINY_ARCH['num_layers']
    backbone.init_cfg.checkpoint = ckpt
    if isinstance(cfg.model.get('neck'), list):
        for neck in cfg.model.neck:
            if 'input_features' in neck:
                neck.input_features = DIMS
    cfg.model.head.update(in_channels=DIMS, num_classes=NUM_CLASSES)
    cfg.data_preprocessor.num_classes = NUM_CLASSES
    if work_dir is not None:
        cfg.work_dir = work_dir
    if folders is not None:
        for key, root, shuffle in (('train_dataloader', folders[0], True),
                                   ('val_dataloader', folders[1], False)):
            loader = cfg[key]
            loader.dataset = dict(type='CustomDataset',
                                  data_root=root,
                                  pipeline=_resize_pipeline(
                                      loader.dataset.pipeline))
            loader.update(batch_size=4,
                          num_workers=0,
                          persistent_workers=False,
                          sampler=dict(type='DefaultSampler', shuffle=shuffle))
        cfg.test_dataloader = cfg.val_dataloader
        cfg.val_evaluator = dict(type='Accuracy', topk=(1, ))
        cfg.test_evaluator = cfg.val_evaluator
        cfg.train_cfg = dict(by_epoch=True, max_epochs=2, val_interval=1)
        cfg.default_hooks.logger.interval = 1
        cfg.env_cfg.dist_cfg = dict(backend='gloo')
        cfg.randomness = dict(seed=0)
    use_amp(cfg, False)  # as tools/train.py: AMP recipes run on CPU too
    return cfg


_MISSING = re.compile(r'missing keys in source state_dict: (.*)')
_UNEXPECTED = re.compile(r'unexpected key in source state_dict: (.*)')


def load_report(log_text: str, ckpt: str) -> Tuple[Set[str], Set[str]]:
    """(missing, unexpected) from mmengine's ``load_state_dict`` log."""
    assert f'load backbone. in model from: {ckpt}' in log_text
    found = []
    for regex in (_MISSING, _UNEXPECTED):
        lines = regex.findall(log_text)
        assert len(lines) <= 1, lines
        found.append({k.strip()
                      for k in lines[0].split(',')} if lines else set())
    return found[0], found[1]


def _build(cfg: Config):
    model_cfg = cfg.model.copy()
    model_cfg.setdefault('data_preprocessor', cfg.get('data_preprocessor'))
    with DefaultScope.overwrite_default_scope('mmpretrain'):
        return MODELS.build(model_cfg)


def _pretrain_backbone(ckpt: str):
    return {
        k[len('backbone.'):]: v
        for k, v in safe_torch_load(ckpt)['state_dict'].items()
        if k.startswith('backbone.')
    }


def test_finetune_trains_and_validates(tiny_pretrain_ckpt, image_folders,
                                       tmp_path):
    cfg = tiny_config(FINETUNE, tiny_pretrain_ckpt, str(tmp_path / 'work'),
                      image_folders)
    runner = Runner.from_cfg(cfg)
    runner.train()

    log_file = osp.join(runner.log_dir, f'{runner.timestamp}.log')
    with open(log_file) as f:
        log_text = f.read()
    missing, unexpected = load_report(log_text, tiny_pretrain_ckpt)
    # only the new norm after pooling; every pretrained tensor is used
    assert missing == {'ln2.weight', 'ln2.bias'}
    assert unexpected == set()

    # mmpretrain's Accuracy ran on the val split after each epoch
    assert log_text.count('Epoch(val) [1]') and log_text.count(
        'Epoch(val) [2]')
    metrics = runner.val()
    assert set(metrics) == {'accuracy/top1'}
    assert 0.0 <= metrics['accuracy/top1'] <= 100.0
    assert osp.isfile(osp.join(cfg.work_dir, 'epoch_2.pth'))
    # fine-tuning moved the pretrained weights
    pretrained = _pretrain_backbone(tiny_pretrain_ckpt)
    tuned = runner.model.backbone.state_dict()
    assert not torch.equal(tuned['layers.0.attn.qkv.weight'],
                           pretrained['layers.0.attn.qkv.weight'])


@pytest.mark.parametrize(
    'name,backbone,missing,unexpected',
    [
        # default: mean-pooled patch tokens, pretrained final norm kept
        (FINETUNE, {}, {'ln2.weight', 'ln2.bias'}, set()),
        # MAE's variant: the pretrained final norm is discarded
        (FINETUNE, dict(final_norm=False), {'ln2.weight', 'ln2.bias'
                                            }, {'ln1.weight', 'ln1.bias'}),
        # cls-token option
        (FINETUNE, dict(out_type='cls_token'), set(), set()),
        # linear probe: nothing new inside the backbone
        (LINEAR, {}, set(), set()),
    ])
def test_backbone_key_sets(tiny_pretrain_ckpt, tmp_path, name, backbone,
                           missing, unexpected):
    cfg = tiny_config(name, tiny_pretrain_ckpt)
    cfg.model.backbone.update(backbone)
    model = _build(cfg)
    log_file = str(tmp_path / 'load.log')
    MMLogger.get_instance(f'keys_{tmp_path.name}', log_file=log_file)
    model.init_weights()
    with open(log_file) as f:
        assert load_report(f.read(),
                           tiny_pretrain_ckpt) == (missing, unexpected)
    # what loaded is exactly the checkpoint's tensors
    pretrained = _pretrain_backbone(tiny_pretrain_ckpt)
    loaded = model.backbone.state_dict()
    for key in set(loaded) - missing:
        assert torch.equal(loaded[key], pretrained[key]), key


def test_linear_probe_feature_is_the_pretraining_feature(tiny_pretrain_ckpt):
    """Backbone + pooling of the linear probe = ViCMAE's pooled feature."""
    probe = _build(tiny_config(LINEAR, tiny_pretrain_ckpt))
    probe.init_weights()
    pretrain_cfg = Config.fromfile(TINY_PRETRAIN_CFG)
    with DefaultScope.overwrite_default_scope('mmpretrain'):
        vicmae = MODELS.build(pretrain_cfg.model)
    load_checkpoint(vicmae, tiny_pretrain_ckpt, strict=True)
    probe.eval(), vicmae.eval()
    torch.manual_seed(0)
    images = torch.randn(4, 3, TINY_IMG, TINY_IMG)
    with torch.no_grad():
        pooled = probe.neck[0](probe.backbone(images))[0]
        torch.testing.assert_close(pooled,
                                   vicmae.extract_feat(images),
                                   atol=1e-5,
                                   rtol=0)


class _SnapshotHook(Hook):
    """Copies the model's state when training starts (after init)."""

    def before_train(self, runner) -> None:
        self.state = {
            k: v.detach().clone()
            for k, v in runner.model.state_dict().items()
        }


def test_linear_probe_leaves_backbone_unchanged(tiny_pretrain_ckpt,
                                                image_folders, tmp_path):
    cfg = tiny_config(LINEAR, tiny_pretrain_ckpt, str(tmp_path / 'work'),
                      image_folders)
    cfg.train_cfg.max_epochs = 1
    runner = Runner.from_cfg(cfg)
    snapshot = _SnapshotHook()
    runner.register_hook(snapshot)
    runner.train()

    after = runner.model.state_dict()
    before = snapshot.state
    pretrained = _pretrain_backbone(tiny_pretrain_ckpt)
    backbone = [k for k in after if k.startswith('backbone.')]
    assert {k[len('backbone.'):] for k in backbone} == set(pretrained)
    for key in backbone:  # every backbone weight: the checkpoint's, unchanged
        assert torch.equal(after[key], pretrained[key[len('backbone.'):]])
        assert torch.equal(after[key], before[key]), key
    # the head trained and the BatchNorm neck collected statistics
    assert not torch.equal(after['head.layers.head.weight'],
                           before['head.layers.head.weight'])
    assert not torch.equal(after['neck.1.bn.running_mean'],
                           before['neck.1.bn.running_mean'])
    trainable = {
        n
        for n, p in runner.model.named_parameters() if p.requires_grad
    }
    assert trainable == {'head.layers.head.weight', 'head.layers.head.bias'}
    metrics = runner.val()
    assert 0.0 <= metrics['accuracy/top1'] <= 100.0
