# Copyright (c) vicmae_mm contributors. All rights reserved.
"""KNNMonitorHook: the weighted vote, and the hook inside a real Runner."""
import glob
import json
import math
import os
import os.path as osp

import cv2
import numpy as np
import pytest
import torch
from mmengine.config import Config
from mmengine.runner import Runner

from dist_helpers import run_distributed
from helpers import TINY_PRETRAIN_CFG, write_images
from vicmae_mm.engine.hooks import KNNMonitorHook
from vicmae_mm.engine.hooks.knn_monitor_hook import weighted_knn_predict

COLOURS = {'blue': (255, 40, 40), 'green': (40, 255, 40), 'red': (40, 40, 255)}


def _unit(deg):
    return [math.cos(math.radians(deg)), math.sin(math.radians(deg))]


def test_vote_is_weighted_by_temperature():
    # one class-0 neighbour at 0 deg, two class-1 neighbours at 40/45 deg
    bank = torch.tensor([_unit(0), _unit(40), _unit(45), _unit(170)])
    labels = torch.tensor([0, 1, 1, 2])
    query = torch.tensor([_unit(0)]) * 3.0  # cosine: scale is irrelevant
    # sharp weights: the single nearest neighbour outvotes the two others
    sharp = weighted_knn_predict(bank, labels, query, 3, k=3, temperature=0.07)
    # flat weights: plain majority of the 3 nearest
    flat = weighted_knn_predict(bank, labels, query, 3, k=3, temperature=100)
    assert sharp.tolist() == [0]
    assert flat.tolist() == [1]
    # chunking does not change the answer
    queries = torch.randn(7, 2)
    assert torch.equal(
        weighted_knn_predict(bank, labels, queries, 3, k=2, chunk_size=2),
        weighted_knn_predict(bank, labels, queries, 3, k=2))


def test_vote_rejects_bad_k():
    with pytest.raises(ValueError, match=r'k=5 must be in \[1, 4\]'):
        weighted_knn_predict(
            torch.randn(4, 3),
            torch.zeros(4, dtype=torch.long),
            torch.randn(2, 3),
            1,
            k=5)


@pytest.mark.parametrize('kwargs, match', [
    (dict(interval=0), 'interval'),
    (dict(k=0), 'k must be'),
    (dict(temperature=0), 'temperature'),
    (dict(val_dataloader=dict(batch_size=2)), 'val_dataloader'),
])
def test_hook_rejects_bad_config(kwargs, match):
    args = dict(
        train_dataloader=dict(dataset=dict()),
        val_dataloader=dict(dataset=dict()))
    args.update(kwargs)
    with pytest.raises(ValueError, match=match):
        KNNMonitorHook(**args)


def _write_colour_classes(root, per_class, seed):
    """Class-per-folder PNGs whose class is their dominant colour."""
    rng = np.random.default_rng(seed)
    for name, colour in COLOURS.items():
        os.makedirs(osp.join(root, name), exist_ok=True)
        for i in range(per_class):
            img = np.clip(
                np.array(colour) + rng.normal(0, 25, (32, 32, 3)), 0, 255)
            cv2.imwrite(osp.join(root, name, f'{i}.png'), img.astype(np.uint8))


def _loader(root, with_label=True):
    return dict(
        batch_size=4,
        num_workers=0,
        sampler=dict(type='DefaultSampler', shuffle=False),
        collate_fn=dict(type='default_collate'),
        dataset=dict(
            type='CustomDataset',
            data_root=root,
            with_label=with_label,
            pipeline=[
                dict(type='LoadImageFromFile'),
                dict(type='Resize', scale=(32, 32)),
                dict(type='PackInputs'),
            ]))


@pytest.fixture(scope='module')
def data(tmp_path_factory):
    root = tmp_path_factory.mktemp('knn_data')
    write_images(str(root / 'pretrain'), num=16)
    _write_colour_classes(str(root / 'train'), per_class=6, seed=0)
    _write_colour_classes(str(root / 'val'), per_class=3, seed=1)
    return str(root)


def _cfg(work_dir, data, knn=True):
    cfg = Config.fromfile(TINY_PRETRAIN_CFG)
    cfg.work_dir = work_dir
    cfg.train_dataloader.dataset.data_root = osp.join(data, 'pretrain')
    if knn:
        cfg.custom_hooks = cfg.custom_hooks + [
            dict(
                type='KNNMonitorHook',
                interval=2,
                k=4,
                train_dataloader=_loader(osp.join(data, 'train')),
                val_dataloader=_loader(osp.join(data, 'val')))
        ]
    return cfg


def _scalars(work_dir):
    (path, ) = glob.glob(osp.join(work_dir, '*', 'vis_data', 'scalars.json'))
    with open(path) as f:
        return [json.loads(line) for line in f if line.strip()]


def test_hook_logs_knn_accuracy_and_leaves_training_unchanged(tmp_path, data):
    work = str(tmp_path / 'with_knn')
    Runner.from_cfg(_cfg(work, data)).train()
    rows = _scalars(work)
    assert [r['iter'] for r in rows] == [1, 2, 3, 4]
    # measured after iterations 2 and 4 (logger interval is 1)
    assert 'knn_top1' not in rows[0]
    for row in rows[1:]:
        assert 0.0 <= row['knn_top1'] <= 100.0
    # colour classes are separable even for a barely trained encoder
    assert rows[-1]['knn_top1'] >= 88.0, rows
    (log, ) = glob.glob(osp.join(work, '*', '*.log'))
    with open(log) as f:
        text = f.read()
    assert 'KNNMonitorHook: iter 2 knn_top1' in text
    assert '(k=4, T=0.07, 18 train / 9 val samples)' in text

    # the monitor restores the RNG state: the same run without it has the
    # very same losses
    plain = str(tmp_path / 'without_knn')
    Runner.from_cfg(_cfg(plain, data, knn=False)).train()
    for a, b in zip(rows, _scalars(plain)):
        assert a['loss_rec'] == b['loss_rec'] and a['loss_nce'] == b[
            'loss_nce'], (a, b)


def test_hook_rejects_unlabelled_sets(tmp_path, data):
    cfg = _cfg(str(tmp_path / 'work'), data, knn=False)
    runner = Runner.from_cfg(cfg)
    hook = KNNMonitorHook(
        train_dataloader=_loader(osp.join(data, 'pretrain'), with_label=False),
        val_dataloader=_loader(osp.join(data, 'val')))
    with pytest.raises(
            ValueError, match='train_dataloader samples have no '
            'gt_label'):
        hook.evaluate(runner)


def test_hook_rejects_multi_view_pipeline(tmp_path, data):
    cfg = _cfg(str(tmp_path / 'work'), data, knn=False)
    runner = Runner.from_cfg(cfg)
    loader = _loader(osp.join(data, 'val'))
    loader['dataset']['pipeline'][1:2] = [
        dict(
            type='MultiView',
            num_views=2,
            transforms=[[dict(type='Resize', scale=(32, 32))]])
    ]
    hook = KNNMonitorHook(train_dataloader=loader, val_dataloader=loader)
    with pytest.raises(ValueError, match='2 views per sample'):
        hook.evaluate(runner)


def _evaluate_once(data, work_dir, launcher='none'):
    cfg = _cfg(work_dir, data, knn=False)
    cfg.launcher = launcher
    if launcher != 'none':
        # CPU/gloo DDP: mmengine's default wrapper passes a GPU device id
        cfg.model_wrapper_cfg = dict(
            type='MMDistributedDataParallel', device_ids=None)
    runner = Runner.from_cfg(cfg)
    hook = KNNMonitorHook(
        train_dataloader=_loader(osp.join(data, 'train')),
        val_dataloader=_loader(osp.join(data, 'val')),
        k=3,
        temperature=0.5)
    acc = hook.evaluate(runner)
    logged = runner.message_hub.get_scalar('train/knn_top1').current()
    return acc, float(logged)


def knn_ddp_worker(rank, world_size, data, work_dir):
    return _evaluate_once(data, work_dir, launcher='pytorch')


def test_two_processes_measure_what_one_measures(tmp_path, data):
    # 18 train / 9 val samples: the val shard of each rank is padded, and
    # the gathered result must still be every sample exactly once
    single = _evaluate_once(data, str(tmp_path / 'one'))
    both = run_distributed(knn_ddp_worker, 2, data, str(tmp_path / 'two'))
    assert both == [single, single]
    assert 0 <= single[0] <= 100 and single[0] == single[1]
