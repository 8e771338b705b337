# Copyright (c) vicmae_mm contributors. All rights reserved.
"""VideoFramePairDataset: annotation lists, folder scan, bad files."""
import os.path as osp

import numpy as np
import pytest
from mmengine.registry import init_default_scope

import vicmae_mm  # noqa: F401
from frame_pair_data import (read_code, write_bad_videos, write_coded_video,
                             write_list)
from vicmae_mm.datasets import (AnnotationFormatError, SampleLoadError,
                                VideoFramePairDataset)

RAW_PIPELINE = [
    dict(type='OpenVideo'),
    dict(type='SampleFramePair', gap_range=(1.0, 1.0)),
    dict(type='DecodeFramePair'),
]


@pytest.fixture(autouse=True)
def pretrain_scope():
    init_default_scope('mmpretrain')


@pytest.fixture(scope='module')
def video_root(tmp_path_factory):
    root = tmp_path_factory.mktemp('video_root')
    write_coded_video(str(root / 'videos' / 'cls_a' / 'a0.mp4'), 40, 25)
    write_coded_video(str(root / 'videos' / 'cls_a' / 'a1.mp4'), 30, 10)
    write_coded_video(
        str(root / 'videos' / 'cls_b' / 'sub' / 'b0.mp4'), 60, 30)
    (root / 'videos' / 'cls_b' / 'notes.txt').write_text('not a video')
    bad = write_bad_videos(str(root / 'videos' / 'bad'))
    return str(root), bad


def test_reads_mmaction_style_lists(video_root, tmp_path):
    root, _ = video_root
    ann = write_list(
        str(tmp_path / 'train_list.txt'), [
            '# Kinetics-style list', 'cls_a/a0.mp4 0', '', 'cls_a/a1.mp4 0',
            'cls_b/sub/b0.mp4 1', '   '
        ])
    ds = VideoFramePairDataset(
        ann_file=ann,
        data_prefix=dict(video=osp.join(root, 'videos')),
        pipeline=RAW_PIPELINE)
    assert len(ds) == 3
    assert ds.get_labels().tolist() == [0, 0, 1]
    assert ds.get_data_info(2)['filename'] == osp.join(root, 'videos',
                                                       'cls_b/sub/b0.mp4')
    np.random.seed(0)
    out = ds[1]
    assert [read_code(f) for f in out['img']] == out['frame_inds'].tolist()
    assert out['frame_gap'] == 10  # 1 s at 10 fps
    assert out['skipped_samples'] == []
    # unlabeled lists (SSv2 unlabeled) and data_root joining
    unlabeled = write_list(
        str(tmp_path / 'unlabeled.txt'), ['cls_a/a0.mp4', 'cls_a/a1.mp4'])
    ds = VideoFramePairDataset(
        data_root=root, ann_file=unlabeled, data_prefix=dict(video='videos'))
    assert ds.get_labels().tolist() == [-1, -1]
    assert osp.isfile(ds.get_data_info(0)['filename'])


@pytest.mark.parametrize('lines, lineno, what', [
    (['a.mp4 0', 'b.mp4 zero'], 2, 'not an integer'),
    (['a.mp4 0', 'c.mp4 1', 'b.mp4 1 2'], 3, '3 fields'),
    (['a.mp4 -3'], 1, 'negative label'),
])
def test_malformed_line_fails_at_build_naming_file_and_line(
        tmp_path, lines, lineno, what):
    ann = write_list(str(tmp_path / 'broken_list.txt'), lines)
    with pytest.raises(AnnotationFormatError) as info:
        VideoFramePairDataset(ann_file=ann)
    assert f'{ann}:{lineno}' in str(info.value)
    assert what in str(info.value)


def test_missing_or_empty_list(tmp_path):
    with pytest.raises(FileNotFoundError, match='nowhere.txt'):
        VideoFramePairDataset(ann_file=str(tmp_path / 'nowhere.txt'))
    empty = write_list(str(tmp_path / 'empty.txt'), ['# nothing'])
    with pytest.raises(ValueError, match='no videos in .*empty.txt'):
        VideoFramePairDataset(ann_file=empty)
    # lazy_init: nothing is read until the dataset is used
    ds = VideoFramePairDataset(
        ann_file=str(tmp_path / 'nowhere.txt'), lazy_init=True)
    with pytest.raises(FileNotFoundError):
        len(ds)


def test_scans_a_folder_without_list(video_root):
    root, _ = video_root
    ds = VideoFramePairDataset(
        data_prefix=dict(video=osp.join(root, 'videos', 'cls_b')))
    assert [ds.get_data_info(i)['filename'] for i in range(len(ds))
            ] == [osp.join(root, 'videos', 'cls_b', 'sub/b0.mp4')]


def test_bad_videos_are_skipped_counted_and_replaced(video_root, tmp_path):
    root, bad = video_root
    lines = ['cls_a/a0.mp4 0'] + [
        f'bad/{name}.mp4 1'
        for name in ('zero_bytes', 'truncated', 'corrupt_header',
                     'not_a_video', 'one_frame', 'missing')
    ]
    ann = write_list(str(tmp_path / 'with_bad.txt'), lines)
    ds = VideoFramePairDataset(
        ann_file=ann,
        data_prefix=dict(video=osp.join(root, 'videos')),
        pipeline=RAW_PIPELINE,
        max_retries=50)
    np.random.seed(0)
    for idx in range(1, len(ds)):
        out = ds[idx]
        # the replacement is the one good video, decoded correctly
        assert out['filename'].endswith('a0.mp4')
        assert [read_code(f) for f in out['img']] == out['frame_inds'].tolist()
        records = out['skipped_samples']
        assert records[0]['path'] == ds.get_data_info(idx)['filename']
        assert records[0]['reason']
        assert all(r['path'] != out['filename'] for r in records)
    # bounded retries: a list of bad files only fails, listing them
    only_bad = write_list(
        str(tmp_path / 'only_bad.txt'),
        ['bad/zero_bytes.mp4', 'bad/missing.mp4'])
    ds = VideoFramePairDataset(
        ann_file=only_bad,
        data_prefix=dict(video=osp.join(root, 'videos')),
        pipeline=RAW_PIPELINE,
        max_retries=3)
    with pytest.raises(SampleLoadError) as info:
        ds[0]
    message = str(info.value)
    assert '4 consecutive samples' in message and 'zero_bytes.mp4' in message


def test_bad_config_values(tmp_path):
    with pytest.raises(ValueError, match='max_retries'):
        VideoFramePairDataset(ann_file='x.txt', max_retries=-1)
    with pytest.raises(ValueError, match='data_prefix'):
        VideoFramePairDataset(ann_file='x.txt', data_prefix=dict(img='x'))
