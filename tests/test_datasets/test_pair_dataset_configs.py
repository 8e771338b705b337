# Copyright (c) vicmae_mm contributors. All rights reserved.
"""The _base_ dataset configs: nothing is read at config/model-build time,
and the released K400+IN1K recipe loads a batch from a miniature copy of
the real data layout."""
import copy
import os.path as osp

import pytest
import torch
from mmengine.config import Config
from mmengine.registry import init_default_scope
from mmengine.runner import Runner

import vicmae_mm  # noqa: F401
from frame_pair_data import write_coded_video, write_list
from helpers import REPO_ROOT, write_images

DATASET_CFGS = ('k400_in1k_pair.py', 'k400_k600_k700_mit_in1k_pair.py',
                'ssv2_unlabeled_pair.py')


def dataset_cfg(name):
    return Config.fromfile(
        osp.join(REPO_ROOT, 'configs', '_base_', 'datasets', name))


@pytest.mark.parametrize('name', DATASET_CFGS)
def test_configs_name_registered_components(name):
    from mmpretrain.registry import DATA_SAMPLERS, DATASETS, TRANSFORMS
    init_default_scope('mmpretrain')
    loader = dataset_cfg(name).train_dataloader
    assert loader.batch_size == 64
    assert DATA_SAMPLERS.get(loader.sampler.type) is not None
    assert loader.dataset.type == 'MixedPairDataset'
    for source in loader.dataset.datasets:
        assert DATASETS.get(source.type) is not None
        for step in source.pipeline:
            assert TRANSFORMS.get(step.type) is not None, step.type
    kinds = [s.type for s in loader.dataset.datasets]
    expected = dict(
        zip(DATASET_CFGS, (['VideoFramePairDataset', 'ImageNet'
                            ], ['VideoFramePairDataset'] * 4 + ['ImageNet'],
                           ['VideoFramePairDataset'])))
    assert kinds == expected[name]


def test_pretrain_runner_builds_without_any_data(tmp_path, monkeypatch):
    # no data/ folder exists here; building the Runner must not look for it
    monkeypatch.chdir(tmp_path)
    cfg = Config.fromfile(
        osp.join(REPO_ROOT, 'configs', 'vicmae', 'pretrain_vits.py'))
    cfg.work_dir = str(tmp_path / 'work')
    runner = Runner.from_cfg(cfg)
    assert isinstance(runner._train_dataloader, dict)  # built lazily
    assert not osp.exists(tmp_path / 'data')


def test_released_recipe_loads_a_batch_from_the_real_layout(
        tmp_path, monkeypatch):
    """data/kinetics400 + data/imagenet as documented, relative to cwd."""
    monkeypatch.chdir(tmp_path)
    k400 = tmp_path / 'data' / 'kinetics400'
    write_coded_video(
        str(k400 / 'videos_train' / 'abseiling' / 'v0.mp4'), 40, 25)
    write_coded_video(str(k400 / 'videos_train' / 'zumba' / 'v1.mp4'), 60, 30)
    write_list(
        str(k400 / 'kinetics400_train_list_videos.txt'),
        ['abseiling/v0.mp4 0', 'zumba/v1.mp4 399'])
    imagenet = tmp_path / 'data' / 'imagenet'
    write_images(str(imagenet / 'train' / 'n01440764'), num=2, size=64)
    write_list(
        str(imagenet / 'meta' / 'train.txt'),
        ['n01440764/img_000.png 0', 'n01440764/img_001.png 0'])

    init_default_scope('mmpretrain')
    loader_cfg = copy.deepcopy(
        dataset_cfg('k400_in1k_pair.py').train_dataloader)
    loader_cfg.update(
        batch_size=4,
        num_workers=0,
        persistent_workers=False,
        pin_memory=False)
    loader = Runner.build_dataloader(loader_cfg.to_dict(), seed=0)
    batch = next(iter(loader))
    view1, view2 = batch['inputs']
    assert view1.shape == view2.shape == (4, 3, 224, 224)
    assert view1.dtype == torch.uint8
    kinds = sorted(s.sample_kind for s in batch['data_samples'])
    assert kinds == ['image', 'image', 'video', 'video']  # 1:1
    for s in batch['data_samples']:
        if s.sample_kind == 'video':
            # 1 s apart at 25 or 30 fps
            assert s.frame_gap in (25, 30) and not s.gap_clamped
