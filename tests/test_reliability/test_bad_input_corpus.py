# Copyright (c) vicmae_mm contributors. All rights reserved.
"""The committed bad-input corpus (``bad_inputs/``) gets its documented
behaviour: a clear error naming the file or field at start-up, or a
counted, logged skip that never stops a run.

``docs/reliability.md`` has the table of cases; ``bad_inputs/make_corpus.py``
wrote the files. The transforms' own unit tests (``tests/test_datasets``)
cover the same failure modes on generated media; here the corpus goes
through the real datasets and one real Runner.
"""
import glob
import json
import math
import re
import os.path as osp

import numpy as np
import pytest
from mmengine.config import Config
from mmengine.registry import init_default_scope
from mmengine.runner import Runner

import vicmae_mm  # noqa: F401
from helpers import TINY_PRETRAIN_CFG
from vicmae_mm.datasets import (AnnotationFormatError, VideoFramePairDataset,
                                VideoReadError)
from vicmae_mm.datasets.robust_fetch import fetch_with_retries

HERE = osp.dirname(osp.abspath(__file__))
CORPUS = osp.join(HERE, 'bad_inputs')
MIXED_CFG = osp.join(HERE, 'configs', 'pretrain_tiny_mixed_pairs.py')
VIDEO_DIR = osp.join(CORPUS, 'videos')
IMAGE_DIR = osp.join(CORPUS, 'images')

# corpus video -> (what happens, text of the error naming the file)
VIDEO_CASES = {
    'zero_bytes.mp4': ('skip', 'empty video file (0 bytes): {path}'),
    'truncated.mp4': ('skip', 'cannot open video {path} (corrupt, truncated'),
    'corrupt_header.mp4':
    ('skip', 'cannot open video {path} (corrupt, truncated'),
    'one_frame.mp4': ('skip', 'video {path} has 1 frame'),
    'missing.mp4': ('skip', 'video file not found: {path}'),
    'shorter_than_gap.mp4': ('clamp', None),
    'good_0.mp4': ('ok', None),
}
# corpus image -> (what happens, text of the error naming the file)
IMAGE_CASES = {
    'zero_bytes.png': ('skip', None),
    'corrupt.png': ('skip', 'failed to load image: {path}'),
    'missing.png': ('skip', 'No such file or directory'),
    'gray.png': ('ok', None),
    'rgba.png': ('ok', None),
    'gray16.png': ('ok', None),
    'smaller_than_crop.png': ('ok', None),
    'good_0.png': ('ok', None),
}
BAD_FILES = [
    osp.join(VIDEO_DIR, n) for n, c in VIDEO_CASES.items() if c[0] == 'skip'
] + [osp.join(IMAGE_DIR, n) for n, c in IMAGE_CASES.items() if c[0] == 'skip']


@pytest.fixture(autouse=True)
def pretrain_scope():
    init_default_scope('mmpretrain')


@pytest.fixture
def mixed_cfg() -> Config:
    """A fresh copy per test (tests edit it)."""
    return Config.fromfile(MIXED_CFG)


def _source(mixed_cfg, index: int, data_root: str = CORPUS):
    """Build source ``index`` of the mixed config (0: videos, 1: images)
    over the corpus."""
    from mmpretrain.registry import DATASETS
    cfg = mixed_cfg.train_dataloader.dataset.datasets[index].copy()
    cfg.data_root = data_root
    return DATASETS.build(cfg)


def _index_of(dataset, path: str) -> int:
    for i in range(len(dataset)):
        info = dataset.get_data_info(i)
        if path in (info.get('filename'), info.get('img_path')):
            return i
    raise AssertionError(f'{path} is not listed in the corpus')


def test_corpus_is_small_and_complete():
    files = glob.glob(osp.join(CORPUS, '**', '*'), recursive=True)
    assert all(osp.getsize(f) < 8 * 1024 for f in files if osp.isfile(f))
    listed_videos = [
        line.split()[0] for line in open(osp.join(CORPUS, 'videos.txt'))
    ]
    listed_images = [
        line.strip() for line in open(osp.join(CORPUS, 'images.txt'))
    ]
    assert set(VIDEO_CASES) <= set(listed_videos)
    assert set(IMAGE_CASES) <= set(listed_images)
    assert not osp.exists(osp.join(VIDEO_DIR, 'missing.mp4'))
    assert not osp.exists(osp.join(IMAGE_DIR, 'missing.png'))
    assert osp.getsize(osp.join(VIDEO_DIR, 'zero_bytes.mp4')) == 0
    assert osp.getsize(osp.join(IMAGE_DIR, 'zero_bytes.png')) == 0
    # the awkward files are what their names say
    import cv2
    import decord

    def unchanged(name):
        return cv2.imread(osp.join(IMAGE_DIR, name), cv2.IMREAD_UNCHANGED)

    assert unchanged('gray.png').ndim == 2
    assert unchanged('rgba.png').shape[2] == 4
    assert unchanged('gray16.png').dtype == np.uint16
    assert unchanged('smaller_than_crop.png').shape[:2] == (10, 12)
    assert len(decord.VideoReader(osp.join(VIDEO_DIR, 'one_frame.mp4'))) == 1
    short = decord.VideoReader(osp.join(VIDEO_DIR, 'shorter_than_gap.mp4'))
    assert len(short) == 5 and short.get_avg_fps() == 25


@pytest.mark.parametrize('name', sorted(VIDEO_CASES))
def test_video_case(mixed_cfg, name):
    """The raw pipeline names the file; inside the dataset the file is
    replaced by another video and recorded."""
    behaviour, message = VIDEO_CASES[name]
    videos = _source(mixed_cfg, 0)
    path = osp.join(VIDEO_DIR, name)
    idx = _index_of(videos, path)
    np.random.seed(0)
    if behaviour == 'skip':
        with pytest.raises(VideoReadError) as info:
            videos.prepare_data(idx)
        assert message.format(path=path) in str(info.value)
        data, records = fetch_with_retries(videos, idx, max_retries=10)
        assert records[0]['path'] == path
        assert message.format(path=path) in records[0]['reason']
        assert data['data_samples'].metainfo['filename'] != path
        assert [tuple(v.shape) for v in data['inputs']] == [(3, 32, 32)] * 2
    else:
        data = videos.prepare_data(idx)
        meta = data['data_samples'].metainfo
        assert meta['filename'] == path
        assert meta['gap_clamped'] is (behaviour == 'clamp')
        if behaviour == 'clamp':  # 5 frames: the longest gap is 4
            assert np.diff(meta['frame_inds']).tolist() == [4]
        assert [tuple(v.shape) for v in data['inputs']] == [(3, 32, 32)] * 2


@pytest.mark.parametrize('name', sorted(IMAGE_CASES))
def test_image_case(mixed_cfg, name):
    """Awkward formats become two 3-channel 8-bit views; unreadable files
    are replaced by another image and recorded under their path."""
    behaviour, message = IMAGE_CASES[name]
    images = _source(mixed_cfg, 1)
    path = osp.join(IMAGE_DIR, name)
    idx = _index_of(images, path)
    np.random.seed(0)
    data, records = fetch_with_retries(images, idx, max_retries=10)
    views = data['inputs']
    assert [tuple(v.shape) for v in views] == [(3, 32, 32)] * 2
    if behaviour == 'skip':
        assert records and records[0]['path'] == path
        if message:
            assert message.format(path=path) in records[0]['reason']
        assert data['data_samples'].metainfo['img_path'] != path
    else:
        assert records == []
        assert data['data_samples'].metainfo['img_path'] == path


@pytest.mark.parametrize('name, where, what', [
    ('too_many_fields.txt', ':2:', '3 fields'),
    ('label_not_an_integer.txt', ':2:', 'is not an integer'),
    ('negative_label.txt', ':2:', 'negative label'),
    ('not_utf8.txt', '', 'not a UTF-8 text annotation list'),
])
def test_malformed_list_stops_at_start_up_naming_file_and_line(
        mixed_cfg, tmp_path, name, where, what):
    """Through a real Runner: the error comes when the dataloader is built,
    before the first iteration, and names the list file and line."""
    cfg = mixed_cfg
    cfg.work_dir = str(tmp_path / 'work')
    cfg.experiment_name = f'malformed_{osp.splitext(name)[0]}'
    ann = osp.join(CORPUS, 'lists', name)
    sources = cfg.train_dataloader.dataset.datasets
    sources[0].update(data_root=CORPUS, ann_file=ann)
    sources[1].data_root = CORPUS
    runner = Runner.from_cfg(cfg)
    with pytest.raises(AnnotationFormatError) as info:
        runner.train()
    assert f'{ann}{where}' in str(info.value) and what in str(info.value)
    # nothing trained, nothing saved
    assert not glob.glob(osp.join(cfg.work_dir, '*.pth'))


@pytest.mark.parametrize('option, value, field', [
    ('model.backbone.mask_ratio', 1.0, 'mask_ratio must be in [0, 1)'),
    ('model.backbone.mask_ratio', -0.1, 'mask_ratio must be in [0, 1)'),
    ('model.backbone.img_size', 30,
     'img_size 30 is not divisible by patch_size 8'),
    ('model.pool_neck.pool_type', 'median', "unknown pool_type 'median'"),
    ('model.contrastive_head.temperature', 0.0, 'temperature must be > 0'),
    ('model.contrastive_head.temperature', -0.1, 'temperature must be > 0'),
    ('model.loss_weights.rec', -1.0, 'loss_weights["rec"] must be >= 0'),
    ('model.loss_weights.nce', float('nan'),
     'loss_weights["nce"] must be >= 0'),
])
def test_bad_config_value_is_refused_naming_the_field(tmp_path, option, value,
                                                      field):
    """The real tiny pretraining config with one bad value: building the
    Runner fails with the field in the message."""
    cfg = Config.fromfile(TINY_PRETRAIN_CFG)
    cfg.work_dir = str(tmp_path / 'work')
    cfg.merge_from_dict({option: value})
    with pytest.raises(ValueError) as info:
        Runner.from_cfg(cfg)
    assert field in str(info.value)


def test_runner_trains_through_the_whole_corpus(mixed_cfg, tmp_path):
    """One tiny Runner over every corpus file (each sampled once): it
    trains to the end, every bad file is listed in the skip summary with
    its reason, the short video's clamped gap is counted."""
    cfg = mixed_cfg
    cfg.work_dir = str(tmp_path / 'work')
    cfg.experiment_name = 'bad_input_corpus'
    for source in cfg.train_dataloader.dataset.datasets:
        source.data_root = CORPUS
    # every item once per epoch; 20 items = 5 iterations of 4
    cfg.train_dataloader.sampler.image_video_ratio = None
    cfg.train_cfg.max_iters = 5
    runner = Runner.from_cfg(cfg)
    runner.train()

    assert runner.iter == 5
    assert osp.isfile(osp.join(cfg.work_dir, 'iter_5.pth'))
    (scalars, ) = glob.glob(
        osp.join(cfg.work_dir, '*', 'vis_data', 'scalars.json'))
    rows = [json.loads(line) for line in open(scalars)]
    assert [r['iter'] for r in rows] == [1, 2, 3, 4, 5]
    assert all(
        math.isfinite(r['loss_rec']) and math.isfinite(r['loss_nce'])
        for r in rows)
    assert sum(r['data_skipped'] for r in rows) >= len(BAD_FILES)
    assert sum(r['data_gap_clamped'] for r in rows) >= 1

    (log_file, ) = glob.glob(osp.join(cfg.work_dir, '*', '*.log'))
    log = open(log_file).read()
    summary = log[log.index('data summary (epoch 1): 20 samples'):]
    listed = [
        line for line in summary.splitlines()
        if line.lstrip().startswith('skipped x')
    ]
    for path in BAD_FILES:
        assert any(path in line for line in listed), (path, listed)
    short = osp.join(VIDEO_DIR, 'shorter_than_gap.mp4')
    assert re.search(r'gap clamped x\d+: ' + re.escape(short), summary)
    # each skip was also logged when it happened
    for path in BAD_FILES:
        assert f'skipped bad sample {path}' in log, path
