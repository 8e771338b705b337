# Copyright (c) vicmae_mm contributors. All rights reserved.
"""Fine-tune the pretraining checkpoint in mmaction2 with a real Runner.

The SSv2 ViT-B config is used as is, with only sizes and data shrunk:
mp4 files written here (a square moving left vs. right, so only motion
separates the classes), VideoDataset + mmaction2's decord pipeline,
Recognizer3D + TimeSformerHead, mixup/cutmix, layer-wise lr decay, AccMetric.
"""
import os
import os.path as osp
import re
from typing import List, Tuple

import numpy as np
import pytest
import torch

import vicmae_mm  # noqa: F401  (before mmaction.models: compat fix)
from helpers import REPO_ROOT, TINY_ARCH, TINY_PATCH  # noqa: E402
from vicmae_mm.utils import safe_torch_load  # noqa: E402
from runner_cli import use_amp  # noqa: E402

SSV2_VITB = osp.join(REPO_ROOT, 'configs', 'vicmae', 'benchmarks',
                     'mmaction2', 'vit-base-p16_vicmae-pre_8xb8-u16-40e_'
                     'sthv2-rgb.py')


def write_motion_video(path: str, moving_right: bool, seed: int,
                       frames: int = 16, size: Tuple[int, int] = (40, 56),
                       square: int = 8) -> None:
    """A coloured square crossing a textured background horizontally.

    The leftward video of a seed is the rightward one played backwards, so
    every frame appears in both classes: only the motion tells them apart.
    """
    import cv2
    rng = np.random.default_rng(seed)
    h, w = size
    background = rng.integers(40, 120, size=(h, w, 3), dtype=np.uint8)
    colour = rng.integers(150, 256, size=3)
    y = int(rng.integers(0, h - square))
    xs = np.linspace(2, w - square - 2, frames).round().astype(int)
    clip = []
    for x in xs:
        frame = background.copy()
        frame[y:y + square, x:x + square] = colour
        clip.append(frame)
    if not moving_right:
        clip = clip[::-1]
    writer = cv2.VideoWriter(path, cv2.VideoWriter_fourcc(*'mp4v'), 8,
                             (w, h))
    assert writer.isOpened(), path
    for frame in clip:
        writer.write(frame)
    writer.release()


def write_motion_dataset(root: str, name: str, pairs: int,
                         seed: int, **kwargs) -> Tuple[str, List[str]]:
    """``pairs`` left/right video pairs and an mmaction2 list file.

    Returns:
        tuple: the list file (``<file> <label>``, label 1 = moving right)
        and the video paths.
    """
    os.makedirs(root, exist_ok=True)
    lines, paths = [], []
    for i in range(pairs):
        for label in (0, 1):
            fname = f'{name}_{i:02d}_{label}.mp4'
            path = osp.join(root, fname)
            write_motion_video(path, bool(label), seed + i, **kwargs)
            lines.append(f'{fname} {label}')
            paths.append(path)
    ann = osp.join(root, f'{name}_list_videos.txt')
    with open(ann, 'w') as f:
        f.write('\n'.join(lines) + '\n')
    return ann, paths


def _tiny_pipelines():
    size = 4 * TINY_PATCH
    base = [dict(type='DecordInit')]
    end = [
        dict(type='FormatShape', input_format='NCTHW'),
        dict(type='PackActionInputs')
    ]
    train = base + [
        dict(type='UniformSample', clip_len=4),
        dict(type='DecordDecode'),
        dict(type='Resize', scale=(size, size), keep_ratio=False),
    ] + end
    val = base + [
        dict(type='UniformSample', clip_len=4, test_mode=True),
        dict(type='DecordDecode'),
        dict(type='Resize', scale=(size, size), keep_ratio=False),
    ] + end
    # 2 clips x 3 crops, as in the full config
    test = base + [
        dict(type='UniformSample', clip_len=4, num_clips=2, test_mode=True),
        dict(type='DecordDecode'),
        dict(type='Resize', scale=(-1, size)),
        dict(type='ThreeCrop', crop_size=size),
    ] + end
    return train, val, test


@pytest.fixture(scope='module')
def motion_data(tmp_path_factory):
    root = str(tmp_path_factory.mktemp('motion_videos'))
    train_ann, _ = write_motion_dataset(root, 'train', pairs=4, seed=0)
    val_ann, _ = write_motion_dataset(root, 'val', pairs=2, seed=100)
    return root, train_ann, val_ann


def _tiny_cfg(ckpt, data, work_dir):
    from mmengine.config import Config
    root, train_ann, val_ann = data
    train_pipe, val_pipe, test_pipe = _tiny_pipelines()
    cfg = Config.fromfile(SSV2_VITB)
    num_layers = TINY_ARCH['num_layers']
    loader = dict(num_workers=0, persistent_workers=False)
    cfg.merge_from_dict({
        'work_dir': work_dir,
        'model.backbone.arch': dict(_delete_=True, **TINY_ARCH),
        'model.backbone.img_size': 4 * TINY_PATCH,
        'model.backbone.patch_size': TINY_PATCH,
        'model.backbone.num_frames': 4,
        'model.backbone.init_cfg.checkpoint': ckpt,
        'model.cls_head.num_classes': 2,
        'model.cls_head.in_channels': TINY_ARCH['embed_dims'],
        'model.data_preprocessor.blending.augments': [
            dict(type='MixupBlending', alpha=0.8, num_classes=2),
            dict(type='CutmixBlending', alpha=1.0, num_classes=2)
        ],
        'optim_wrapper.optimizer.lr': 1e-3,
        'optim_wrapper.paramwise_cfg.num_layers': num_layers,
        'train_dataloader': dict(
            batch_size=4,
            dataset=dict(
                ann_file=train_ann,
                data_prefix=dict(video=root),
                pipeline=train_pipe),
            **loader),
        'val_dataloader': dict(
            batch_size=2,
            dataset=dict(
                ann_file=val_ann,
                data_prefix=dict(video=root),
                pipeline=val_pipe),
            **loader),
        'test_dataloader': dict(
            batch_size=1,
            dataset=dict(
                ann_file=val_ann,
                data_prefix=dict(video=root),
                pipeline=test_pipe),
            **loader),
        'train_cfg.max_epochs': 2,
        'train_cfg.val_interval': 2,
        'default_hooks.checkpoint.interval': 2,
        'default_hooks.logger.interval': 1,
        'randomness': dict(seed=0),
        'experiment_name': 'mmaction2_tiny_finetune',
    })
    # as tools/train.py does: the config's AmpOptimWrapper becomes bf16
    # autocast when there is no GPU
    use_amp(cfg, enable=False)
    return cfg


def _logged_key_sets(log_text: str):
    found = {}
    for kind, pattern in (('unexpected',
                           r'unexpected key in source state_dict: (.*)'),
                          ('missing',
                           r'missing keys in source state_dict: (.*)')):
        hits = re.findall(pattern, log_text)
        assert len(hits) == 1, (kind, hits)
        found[kind] = {k.strip() for k in hits[0].split(',')}
    return found


def test_runner_finetunes_pretraining_checkpoint(tiny_pretrain_ckpt,
                                                 motion_data, tmp_path):
    from mmengine.runner import Runner
    cfg = _tiny_cfg(tiny_pretrain_ckpt, motion_data, str(tmp_path / 'work'))
    runner = Runner.from_cfg(cfg)
    runner.train()
    assert runner.iter == 4 and runner.epoch == 2

    # the checkpoint was loaded through the backbone's init_cfg, with the
    # exact key differences logged by name
    with open(osp.join(runner.log_dir, f'{runner.timestamp}.log')) as f:
        log_text = f.read()
    assert 'load backbone. in model from: ' + tiny_pretrain_ckpt in log_text
    keys = _logged_key_sets(log_text)
    assert keys['unexpected'] == {'cls_token'}
    assert keys['missing'] == {
        'temporal_pos_embed', 'fc_norm.weight', 'fc_norm.bias'
    }
    adapted = [
        line for line in log_text.splitlines()
        if 'InflatedVisionTransformer: adapted image-encoder weights' in line
    ]
    assert len(adapted) == 1
    assert 'renamed 24 layers.* keys to blocks.*' in adapted[0]
    assert 'inflated patch_embed.projection.weight (32, 3, 8, 8) -> ' \
        '(32, 3, 2, 8, 8) (average)' in adapted[0]
    assert 'cls position dropped' in adapted[0]

    # the encoder starts from the checkpoint and is then trained (with the
    # layer-decayed lr): close to, but not equal to, the pretrained weights
    pretrained = safe_torch_load(tiny_pretrain_ckpt)['state_dict']
    trained = runner.model.backbone.blocks[1].attn.qkv.weight.detach()
    delta = (trained - pretrained['backbone.layers.1.attn.qkv.weight']).abs()
    assert 0 < delta.max() < 1e-2
    groups = runner.optim_wrapper.optimizer.param_groups
    assert {g['lr_scale'] for g in groups} == {0.75**3, 0.75**2, 0.75, 1.0}

    # the validation metric is AccMetric on the 4 validation videos: redo
    # it by hand from the model's predictions
    metrics = runner.val()
    preds, labels = [], []
    runner.model.eval()
    with torch.no_grad():
        for batch in runner.val_dataloader:
            for sample in runner.model.val_step(batch):
                preds.append(int(sample.pred_score.argmax()))
                labels.append(int(sample.gt_label))
    assert len(labels) == 4 and sorted(labels) == [0, 0, 1, 1]
    accuracy = np.mean(np.array(preds) == np.array(labels))
    assert metrics['acc/top1'] == pytest.approx(accuracy)
    assert 0.0 <= metrics['acc/mean1'] <= 1.0

    # multi-view testing: 2 clips x 3 crops per video, scores averaged
    batch = next(iter(runner.test_dataloader))
    assert batch['inputs'][0].shape == (6, 3, 4, 32, 32)
    test_metrics = runner.test()
    assert 'acc/top1' in test_metrics

    # what was saved is a video model, weights-only loadable
    saved = torch.load(
        osp.join(cfg.work_dir, 'epoch_2.pth'), weights_only=True)
    state = saved['state_dict']
    assert state['backbone.patch_embed.projection.weight'].ndim == 5
    assert 'backbone.blocks.1.attn.qkv.weight' in state
    assert not any(k.startswith('backbone.layers.') for k in state)
