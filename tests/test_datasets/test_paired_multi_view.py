# Copyright (c) vicmae_mm contributors. All rights reserved.
"""PairedMultiView: frame i -> view i; an image -> two independent crops;
the released view pipelines; awkward image formats."""
import os.path as osp

import numpy as np
import pytest
import torch
from mmengine.config import Config
from mmengine.registry import init_default_scope

import vicmae_mm  # noqa: F401
from frame_pair_data import (read_code, write_coded_video, write_odd_images)
from helpers import REPO_ROOT
from vicmae_mm.datasets import (DecodeFramePair, OpenVideo, PairedMultiView,
                                SampleFramePair)

PIPELINES_CFG = osp.join(REPO_ROOT, 'configs', '_base_', 'datasets',
                         'pair_view_pipelines.py')


@pytest.fixture(autouse=True)
def pretrain_scope():
    init_default_scope('mmpretrain')


@pytest.fixture(scope='module')
def video(tmp_path_factory):
    return write_coded_video(
        str(tmp_path_factory.mktemp('pmv') / 'v.mp4'), 60, 25)


@pytest.fixture(scope='module')
def odd_images(tmp_path_factory):
    return write_odd_images(str(tmp_path_factory.mktemp('odd_images')))


def decoded_pair(path, seed=0):
    np.random.seed(seed)
    results = OpenVideo()(dict(filename=path))
    results = SampleFramePair((1.0, 1.0))(results)
    return DecodeFramePair()(results)


def test_view_i_is_frame_i(video):
    results = decoded_pair(video)
    inds = results['frame_inds'].tolist()
    views = PairedMultiView(transforms=[
        [],  # view 1 unchanged
        [dict(type='RandomFlip', prob=1.0, direction='horizontal')],
    ])(results)['img']
    assert len(views) == 2
    assert read_code(views[0]) == inds[0]
    assert read_code(views[1][:, ::-1]) == inds[1]  # un-flip view 2


def test_image_gives_two_independent_augmentations():
    rng = np.random.default_rng(0)
    image = rng.integers(0, 255, (48, 64, 3), dtype=np.uint8)
    original = image.copy()
    crop = [
        dict(type='RandomResizedCrop', scale=32, crop_ratio_range=(0.2, 0.5))
    ]
    np.random.seed(0)
    out = PairedMultiView(transforms=[crop, crop])(dict(img=image))
    v1, v2 = out['img']
    assert v1.shape == v2.shape == (32, 32, 3)
    assert not np.array_equal(v1, v2)
    np.testing.assert_array_equal(image, original)  # source untouched


def test_frame_count_must_match_pipelines(video):
    results = decoded_pair(video)
    with pytest.raises(ValueError, match='2 frames for 3 view pipelines'):
        PairedMultiView(transforms=[[], [], []])(results)
    with pytest.raises(ValueError, match='transforms'):
        PairedMultiView(transforms=[])


def test_released_view_pipelines_on_video_and_image(video, odd_images):
    from mmpretrain.registry import TRANSFORMS
    cfg = Config.fromfile(PIPELINES_CFG)
    video_pipeline = [TRANSFORMS.build(t) for t in cfg.frame_pair_pipeline]
    image_pipeline = [TRANSFORMS.build(t) for t in cfg.image_pair_pipeline]

    def run(pipeline, results):
        for t in pipeline:
            results = t(results)
        return results

    np.random.seed(0)
    packed = run(video_pipeline, dict(filename=video))
    assert isinstance(packed['inputs'], list) and len(packed['inputs']) == 2
    for view in packed['inputs']:
        assert view.shape == (3, 224, 224) and view.dtype == torch.uint8
    meta = packed['data_samples'].metainfo
    assert meta['frame_gap'] == 25 and meta['gap_clamped'] is False
    assert len(meta['frame_inds']) == 2

    packed = run(image_pipeline, dict(img_path=odd_images['rgba']))
    assert [tuple(v.shape) for v in packed['inputs']] == [(3, 224, 224)] * 2


@pytest.mark.parametrize('name', ['gray', 'rgba', 'gray16', 'bgr16', 'small'])
def test_awkward_images_become_3_channel_uint8_views(odd_images, name):
    from mmpretrain.registry import TRANSFORMS
    load = TRANSFORMS.build(dict(type='LoadImageFromFile'))
    results = load(dict(img_path=odd_images[name]))
    img = results['img']
    # mmcv decodes with IMREAD_COLOR: 3 channels, 8 bits, alpha dropped,
    # 16-bit values scaled by 1/256
    assert img.dtype == np.uint8 and img.ndim == 3 and img.shape[2] == 3
    expected_pixel = dict(gray16=[156, 156, 156], bgr16=[3, 117, 255])
    if name in expected_pixel:
        assert img[5, 5].tolist() == expected_pixel[name]
    if name == 'gray':
        assert (img[..., 0] == img[..., 1]).all()
    if name == 'rgba':
        assert img[0, 1].tolist() == [5, 250, 80]
    views = PairedMultiView(transforms=[
        [dict(type='RandomResizedCrop', scale=32)],
        [dict(type='RandomResizedCrop', scale=32)],
    ])(results)['img']
    # an image smaller than the crop is upsampled, as mmpretrain does
    assert [v.shape for v in views] == [(32, 32, 3)] * 2
    assert all(v.dtype == np.uint8 for v in views)
