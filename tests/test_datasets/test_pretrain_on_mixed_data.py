# Copyright (c) vicmae_mm contributors. All rights reserved.
"""A real mmengine Runner trains the tiny ViC-MAE on mixed video frame pairs
and two-view images written by the test (one video is broken)."""
import glob
import json
import math
import os.path as osp

from mmengine.config import Config
from mmengine.runner import Runner

import vicmae_mm  # noqa: F401
from frame_pair_data import write_coded_video, write_list
from helpers import TINY_PRETRAIN_CFG, write_images

VIEW = [
    dict(type='RandomResizedCrop', scale=32, crop_ratio_range=(0.5, 1.0)),
    dict(type='RandomFlip', prob=0.5),
]
META = ('sample_idx', 'img_path', 'filename', 'frame_inds', 'gap_clamped')


def mixed_dataloader(root):
    return dict(
        batch_size=4,
        num_workers=2,
        persistent_workers=True,
        sampler=dict(type='MixedRatioSampler', image_video_ratio=(1, 1)),
        collate_fn=dict(type='default_collate'),
        dataset=dict(
            type='MixedPairDataset',
            datasets=[
                dict(
                    type='VideoFramePairDataset',
                    ann_file=osp.join(root, 'videos.txt'),
                    data_prefix=dict(video=osp.join(root, 'videos')),
                    pipeline=[
                        dict(type='OpenVideo'),
                        dict(type='SampleFramePair', gap_range=(1.0, 1.0)),
                        dict(type='DecodeFramePair'),
                        dict(type='PairedMultiView', transforms=[VIEW, VIEW]),
                        dict(type='PackInputs', meta_keys=META),
                    ]),
                dict(
                    type='CustomDataset',
                    data_root=osp.join(root, 'images'),
                    with_label=False,
                    pipeline=[
                        dict(type='LoadImageFromFile'),
                        dict(type='PairedMultiView', transforms=[VIEW, VIEW]),
                        dict(type='PackInputs', meta_keys=META),
                    ]),
            ]))


def test_tiny_vicmae_trains_on_mixed_video_and_images(tmp_path):
    root = str(tmp_path / 'data')
    for name, frames, fps in (('a', 40, 25), ('b', 30, 10), ('c', 50, 30),
                              ('short', 8, 25)):
        write_coded_video(osp.join(root, 'videos', f'{name}.mp4'), frames, fps)
    open(osp.join(root, 'videos', 'broken.mp4'), 'wb').close()
    write_list(
        osp.join(root, 'videos.txt'),
        ['a.mp4 0', 'b.mp4 1', 'broken.mp4 0', 'c.mp4 1', 'short.mp4 0'])
    write_images(osp.join(root, 'images'), num=5)

    cfg = Config.fromfile(TINY_PRETRAIN_CFG)
    cfg.work_dir = str(tmp_path / 'work')
    cfg.experiment_name = 'mixed_pairs'
    cfg.train_dataloader = mixed_dataloader(root)
    cfg.custom_hooks = list(cfg.get(
        'custom_hooks', [])) + [dict(type='DataSkipSummaryHook', interval=2)]
    runner = Runner.from_cfg(cfg)
    runner.train()

    scalars = glob.glob(
        osp.join(cfg.work_dir, '*', 'vis_data', 'scalars.json'))[0]
    rows = [json.loads(line) for line in open(scalars) if line.strip()]
    assert [r['iter'] for r in rows] == [1, 2, 3, 4]
    for row in rows:
        assert math.isfinite(row['loss_rec']) and math.isfinite(
            row['loss_nce'])
    log = open(glob.glob(osp.join(cfg.work_dir, '*', '*.log'))[0]).read()
    # the per-interval summary lists the broken file with its reason
    assert 'data summary (iter 2)' in log
    assert 'bad files skipped' in log
    assert 'empty video file (0 bytes): ' + osp.join(root, 'videos',
                                                     'broken.mp4') in log
    # per-iteration counts reach scalars.json
    assert all('data_skipped' in r and 'data_gap_clamped' in r for r in rows)
    assert sum(r['data_skipped'] for r in rows) >= 1
    # the 8-frame video is shorter than 1 s at 25 fps: its gap was clamped
    assert 'gap clamped' in log and 'short.mp4' in log
    assert osp.isfile(osp.join(cfg.work_dir, 'iter_4.pth'))
