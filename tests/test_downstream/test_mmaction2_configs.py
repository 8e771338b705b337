# Copyright (c) vicmae_mm contributors. All rights reserved.
"""The mmaction2 benchmark configs build with full-size encoders, and their
data pipelines run, unchanged, on videos laid out as the configs expect."""
import os
import os.path as osp
import sys

import pytest
import torch
from mmengine.config import Config

import vicmae_mm  # noqa: F401  (before mmaction.models: compat fix)
import mmaction.models  # noqa: F401,E402
from helpers import REPO_ROOT  # noqa: E402
from mmaction.registry import DATASETS, MODELS  # noqa: E402
# the motion-video writer lives next to the fine-tuning test
sys.path.insert(0, osp.dirname(osp.abspath(__file__)))
from test_mmaction2_finetune import write_motion_dataset  # noqa: E402
from runner_cli import use_amp  # noqa: E402

CFG_DIR = osp.join(REPO_ROOT, 'configs', 'vicmae', 'benchmarks', 'mmaction2')
SSV2_B = 'vit-base-p16_vicmae-pre_8xb8-u16-40e_sthv2-rgb.py'
SSV2_L = 'vit-large-p16_vicmae-pre_8xb8-u16-40e_sthv2-rgb.py'
K400_B = 'vit-base-p16_vicmae-pre_8xb8-16x4x1-75e_kinetics400-rgb.py'
K400_L = 'vit-large-p16_vicmae-pre_8xb8-16x4x1-50e_kinetics400-rgb.py'
K400_FRAMES = 'vit-base-p16_vicmae-pre-framewise_8xb8-8x8x1-30e_' \
    'kinetics400-rgb.py'

# config: (dims, depth, classes, frames, tubelet, mode, drop path, decay,
#          checkpointing, test views)
EXPECTED = {
    SSV2_B: (768, 12, 174, 16, 2, 'joint', 0.1, 0.75, False, 2 * 3),
    SSV2_L: (1024, 24, 174, 16, 2, 'joint', 0.2, 0.8, True, 2 * 3),
    K400_B: (768, 12, 400, 16, 2, 'joint', 0.1, 0.75, False, 5 * 3),
    K400_L: (1024, 24, 400, 16, 2, 'joint', 0.2, 0.8, True, 5 * 3),
    K400_FRAMES: (768, 12, 400, 8, 1, 'framewise', 0.1, 0.75, False, 5 * 3),
}


@pytest.fixture(autouse=True)
def mmaction_scope():
    from mmengine.registry import DefaultScope
    with DefaultScope.overwrite_default_scope('mmaction'):
        yield


def _count(module):
    return sum(p.numel() for p in module.parameters())


@pytest.mark.parametrize('name', sorted(EXPECTED))
def test_config_builds_full_size_model(name):
    from mmengine.optim import build_optim_wrapper
    from mmpretrain.models import VisionTransformer
    (dims, depth, classes, frames, tubelet, mode, dpr, decay, with_cp,
     _) = EXPECTED[name]
    cfg = Config.fromfile(osp.join(CFG_DIR, name))
    assert cfg.default_scope == 'mmaction'
    assert 'vicmae_mm' in cfg.custom_imports.imports
    # mixup's Beta distribution cannot live on the meta device: the data
    # preprocessor is built (and run) in the pipeline test
    model_cfg = cfg.model.copy()
    model_cfg.data_preprocessor = dict(type='ActionDataPreprocessor')
    with torch.device('meta'):
        model = MODELS.build(model_cfg)
        image = VisionTransformer(
            arch=cfg.model.backbone.arch, with_cls_token=False,
            out_type='avg_featmap')
    backbone = model.backbone
    assert type(backbone).__name__ == 'InflatedVisionTransformer'
    assert (backbone.embed_dims, len(backbone.blocks)) == (dims, depth)
    assert (backbone.num_frames, backbone.tubelet_size) == (frames, tubelet)
    assert backbone.mode == mode and backbone.with_cp == with_cp
    assert backbone.patch_embed.projection.weight.shape == (dims, 3,
                                                            tubelet, 16, 16)
    init = cfg.model.backbone.init_cfg
    assert (init.type, init.prefix) == ('Pretrained', 'backbone.')
    assert init.checkpoint.endswith(
        'pretrain_vitl/epoch_800.pth' if dims == 1024 else
        'pretrain_vitb/epoch_800.pth')
    # the image encoder plus what video adds: (t-1) kernel slices and the
    # temporal embedding
    extra = (tubelet - 1) * dims * 3 * 16 * 16
    if mode == 'joint':
        extra += frames // tubelet * dims
    assert _count(backbone) == _count(image) + extra
    assert backbone.blocks[-1].attn.out_drop.drop_prob == pytest.approx(dpr)
    head = model.cls_head
    assert (head.num_classes, head.in_channels) == (classes, dims)
    assert head.label_smooth_eps == 0.1 and head.average_clips == 'prob'
    # mixup / cutmix via mmaction2's blending, with the right class count
    blending = cfg.model.data_preprocessor.blending
    assert [a.type for a in blending.augments] == [
        'MixupBlending', 'CutmixBlending'
    ]
    assert {a.num_classes for a in blending.augments} == {classes}
    # AdamW + mmaction2's layer-wise decay, num_layers = encoder depth
    optim = cfg.optim_wrapper
    assert optim.type == 'AmpOptimWrapper'
    assert optim.optimizer.type == 'AdamW'
    assert optim.optimizer.weight_decay == 0.05
    assert optim.constructor == 'LearningRateDecayOptimizerConstructor'
    use_amp(cfg, enable=False)  # as tools/train.py, on a machine w/o GPU
    wrapper = build_optim_wrapper(model, cfg.optim_wrapper)
    scale = {
        n: g['lr_scale']
        for g in wrapper.optimizer.param_groups for n in g['param_names']
    }
    assert scale['backbone.pos_embed'] == pytest.approx(decay**(depth + 1))
    assert scale['backbone.blocks.0.attn.qkv.weight'] == \
        pytest.approx(decay**depth)
    assert scale[f'backbone.blocks.{depth - 1}.ffn.layers.1.weight'] == \
        pytest.approx(decay)
    assert scale['cls_head.fc_cls.weight'] == 1.0


def _write_layout(cfg) -> None:
    """Videos and list files at the config's own (relative) paths."""
    dataloaders = (cfg.train_dataloader, cfg.val_dataloader,
                   cfg.test_dataloader)
    for loader in dataloaders:
        ds = loader.dataset
        folder, ann = ds.data_prefix.video, ds.ann_file
        if osp.isfile(ann):
            continue
        written, _ = write_motion_dataset(
            folder, 'clip', pairs=1, seed=0, frames=32, size=(48, 64))
        os.makedirs(osp.dirname(ann), exist_ok=True)
        os.replace(written, ann)


def _pipeline_types(dataset_cfg):
    return [t['type'] for t in dataset_cfg.pipeline]


@pytest.mark.parametrize('name', [SSV2_B, K400_B, K400_FRAMES])
def test_config_pipelines_run_on_videos(name, tmp_path, monkeypatch):
    from mmengine.registry import FUNCTIONS
    frames, views = EXPECTED[name][3], EXPECTED[name][-1]
    classes = EXPECTED[name][2]
    cfg = Config.fromfile(osp.join(CFG_DIR, name))
    monkeypatch.chdir(tmp_path)
    _write_layout(cfg)
    if 'sthv2' in name:
        for split in ('train', 'val'):
            assert osp.isfile(f'data/sthv2/sthv2_{split}_list_videos.txt')
        train_types = _pipeline_types(cfg.train_dataloader.dataset)
        assert 'Flip' not in train_types  # direction is the label
        assert 'UniformSample' in train_types
    else:
        assert 'Flip' in _pipeline_types(cfg.train_dataloader.dataset)

    train = DATASETS.build(cfg.train_dataloader.dataset)
    val = DATASETS.build(cfg.val_dataloader.dataset)
    test = DATASETS.build(cfg.test_dataloader.dataset)
    assert len(train) == len(val) == len(test) == 2
    samples = train[1]
    samples = samples if isinstance(samples, list) else [samples]
    if cfg.train_dataloader.dataset.type == 'RepeatAugDataset':
        assert len(samples) == 2  # repeated augmentation
    for sample in samples:
        assert sample['inputs'].shape == (1, 3, frames, 224, 224)
        assert sample['inputs'].dtype == torch.uint8
        assert int(sample['data_samples'].gt_label) == 1
    assert val[0]['inputs'].shape == (1, 3, frames, 224, 224)
    assert test[0]['inputs'].shape == (views, 3, frames, 224, 224)

    # the data preprocessor normalises and blends (soft labels)
    collate = FUNCTIONS.get(
        cfg.train_dataloader.get('collate_fn', {}).get('type',
                                                       'pseudo_collate'))
    preprocessor = MODELS.build(cfg.model.data_preprocessor)
    batch = preprocessor(collate([train[0], train[1]]), training=True)
    num = 2 * len(samples)
    assert batch['inputs'].shape == (num, 1, 3, frames, 224, 224)
    assert batch['inputs'].dtype == torch.float32
    labels = torch.stack(
        [s.gt_label for s in batch['data_samples']])
    assert labels.shape == (num, classes)
    torch.testing.assert_close(labels.sum(dim=1), torch.ones(num))
