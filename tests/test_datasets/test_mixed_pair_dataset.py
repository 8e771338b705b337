# Copyright (c) vicmae_mm contributors. All rights reserved.
"""MixedPairDataset: per-sample seeding (worker-count independent), bad
files replaced within their source."""
import copy
import os.path as osp

import numpy as np
import pytest
import torch
from mmengine.registry import init_default_scope
from mmengine.runner import Runner

import vicmae_mm  # noqa: F401
from frame_pair_data import write_coded_video, write_list
from helpers import write_images
from vicmae_mm.datasets import MixedPairDataset
from vicmae_mm.datasets.sample_seeding import tag_index

VIEW_1 = [
    dict(type='RandomResizedCrop', scale=32, crop_ratio_range=(0.3, 1.0)),
    dict(type='RandomFlip', prob=0.5),
    dict(
        type='RandomApply',
        prob=0.8,
        transforms=[
            dict(
                type='ColorJitter',
                brightness=0.4,
                contrast=0.4,
                saturation=0.2,
                hue=0.1)
        ]),
]
VIEW_2 = [
    dict(type='RandomResizedCrop', scale=32, crop_ratio_range=(0.3, 1.0)),
    dict(type='RandomFlip', prob=0.5),
    dict(type='Solarize', thr=128, prob=0.5),
]
META = ('sample_idx', 'img_path', 'filename', 'frame_inds', 'gap_clamped')
VIDEO_PIPELINE = [
    dict(type='OpenVideo'),
    dict(type='SampleFramePair', gap_range=(0.3, 1.0)),
    dict(type='DecodeFramePair'),
    dict(type='PairedMultiView', transforms=[VIEW_1, VIEW_2]),
    dict(type='PackInputs', meta_keys=META),
]
IMAGE_PIPELINE = [
    dict(type='LoadImageFromFile'),
    dict(type='PairedMultiView', transforms=[VIEW_1, VIEW_2]),
    dict(type='PackInputs', meta_keys=META),
]


@pytest.fixture(autouse=True)
def pretrain_scope():
    init_default_scope('mmpretrain')


@pytest.fixture(scope='module')
def data(tmp_path_factory):
    root = tmp_path_factory.mktemp('mixed_data')
    for name, frames, fps in (('a', 40, 25), ('b', 30, 10), ('c', 60, 30),
                              ('d', 6, 25)):
        write_coded_video(str(root / 'videos' / f'{name}.mp4'), frames, fps)
    open(str(root / 'videos' / 'broken.mp4'), 'wb').close()
    ann = write_list(
        str(root / 'videos.txt'),
        ['a.mp4', 'b.mp4', 'broken.mp4', 'c.mp4', 'd.mp4'])
    write_images(str(root / 'images'), num=5)
    return dict(root=str(root), ann=ann)


def dataset_cfg(data, **kwargs):
    return dict(
        type='MixedPairDataset',
        datasets=[
            dict(
                type='VideoFramePairDataset',
                ann_file=data['ann'],
                data_prefix=dict(video=osp.join(data['root'], 'videos')),
                pipeline=VIDEO_PIPELINE),
            dict(
                type='CustomDataset',
                data_root=osp.join(data['root'], 'images'),
                with_label=False,
                pipeline=IMAGE_PIPELINE),
        ],
        **kwargs)


def same_sample(a, b):
    return (all(torch.equal(x, y) for x, y in zip(a['inputs'], b['inputs']))
            and np.array_equal(
                a['data_samples'].metainfo.get('frame_inds', []),
                b['data_samples'].metainfo.get('frame_inds', [])))


def test_sample_is_a_function_of_seed_epoch_and_index(data):
    from mmpretrain.registry import DATASETS
    ds = DATASETS.build(dataset_cfg(data, seed=3))
    assert ds.kinds == ['video', 'image'] and len(ds) == 10
    n = len(ds)
    np_state, torch_state = np.random.get_state(), torch.random.get_rng_state()
    forward = [ds[tag_index(0, i, n)] for i in range(n)]
    backward = [ds[tag_index(0, i, n)] for i in reversed(range(n))][::-1]
    assert all(same_sample(a, b) for a, b in zip(forward, backward))
    # fetching leaves the caller's RNG streams alone
    assert np.array_equal(np.random.get_state()[1], np_state[1])
    assert torch.equal(torch.random.get_rng_state(), torch_state)
    # another epoch: other pairs and other crops
    later = [ds[tag_index(1, i, n)] for i in range(n)]
    assert sum(not same_sample(a, b) for a, b in zip(forward, later)) >= n - 1
    video_meta = [s['data_samples'].metainfo for s in forward[:5]]
    assert {m['sample_kind'] for m in video_meta} == {'video'}
    assert forward[7]['data_samples'].metainfo['sample_kind'] == 'image'


def test_bad_file_is_replaced_within_its_source(data):
    from mmpretrain.registry import DATASETS
    ds = DATASETS.build(dataset_cfg(data, seed=0))
    n = len(ds)
    out = ds[tag_index(4, 2, n)]  # index 2 is broken.mp4
    meta = out['data_samples'].metainfo
    assert meta['sample_kind'] == 'video'
    assert meta['filename'].endswith(('a.mp4', 'b.mp4', 'c.mp4', 'd.mp4'))
    records = meta['skipped_samples']
    assert records[0]['path'].endswith('broken.mp4')
    assert '0 bytes' in records[0]['reason'] and records[0]['epoch'] == 4
    # the replacement is reproducible too
    assert same_sample(out, ds[tag_index(4, 2, n)])


def test_unseeded_dataset_refuses_untagged_use(data):
    ds = MixedPairDataset(**{
        k: v
        for k, v in dataset_cfg(data).items() if k != 'type'
    })
    with pytest.raises(RuntimeError, match='MixedRatioSampler'):
        ds[0]


def test_bad_dataset_config(data):
    cfg = dataset_cfg(data, kinds=['video'])
    with pytest.raises(ValueError, match='kinds'):
        MixedPairDataset(**{k: v for k, v in cfg.items() if k != 'type'})
    with pytest.raises(ValueError, match='datasets is empty'):
        MixedPairDataset(datasets=[])


def loader_batches(data, num_workers, epochs=(0, 1)):
    cfg = dict(
        batch_size=3,
        num_workers=num_workers,
        persistent_workers=num_workers > 0,
        sampler=dict(type='MixedRatioSampler', image_video_ratio=(1, 1)),
        collate_fn=dict(type='default_collate'),
        dataset=dataset_cfg(data))
    loader = Runner.build_dataloader(copy.deepcopy(cfg), seed=11)
    out = {}
    for epoch in epochs:
        loader.sampler.set_epoch(epoch)
        # default_collate stacks each view: inputs = [(B,3,H,W), (B,3,H,W)]
        out[epoch] = [
            (b['inputs'][0], b['inputs'][1],
             [s.metainfo.get('frame_inds') for s in b['data_samples']])
            for b in loader
        ]
    return out


def test_worker_count_and_persistent_workers_do_not_change_samples(data):
    single = loader_batches(data, 0)
    workers = loader_batches(data, 2)
    for epoch in (0, 1):
        assert len(single[epoch]) == len(workers[epoch]) == 4
        for (a1, a2, af), (b1, b2, bf) in zip(single[epoch], workers[epoch]):
            assert torch.equal(a1, b1) and torch.equal(a2, b2)
            assert [None if f is None else list(f) for f in af] == \
                [None if f is None else list(f) for f in bf]
    # and epochs differ
    assert not all(
        torch.equal(a[0], b[0]) for a, b in zip(single[0], single[1]))
