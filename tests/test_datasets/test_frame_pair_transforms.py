# Copyright (c) vicmae_mm contributors. All rights reserved.
"""OpenVideo / SampleFramePair / DecodeFramePair on real mp4 files whose
frames carry their own index."""
import os.path as osp

import numpy as np
import pytest
from mmengine.registry import DefaultScope

import vicmae_mm  # noqa: F401
from frame_pair_data import read_code, write_bad_videos, write_coded_video
from vicmae_mm.datasets import (DecodeFramePair, OpenVideo, SampleFramePair,
                                VideoReadError)

FPS_CASES = (10, 25, 29.97, 30)


@pytest.fixture(scope='module')
def videos(tmp_path_factory):
    root = tmp_path_factory.mktemp('coded_videos')
    out = {
        fps: write_coded_video(str(root / f'fps{fps}.mp4'), 90, fps)
        for fps in FPS_CASES
    }
    out['short'] = write_coded_video(str(root / 'short.mp4'), 5, 25)
    return out


@pytest.fixture(scope='module')
def bad_videos(tmp_path_factory):
    return write_bad_videos(str(tmp_path_factory.mktemp('bad_videos')))


def run_pair(path, sampler, channel_order='bgr', seed=0):
    np.random.seed(seed)
    results = OpenVideo()(dict(filename=path))
    results = sampler(results)
    return DecodeFramePair(channel_order)(results)


@pytest.mark.parametrize('fps', FPS_CASES)
def test_gap_in_seconds_gives_exactly_the_sampled_frames(videos, fps):
    sampler = SampleFramePair(gap_range=(1.0, 1.0), gap_unit='second')
    starts = set()
    for seed in range(6):
        out = run_pair(videos[fps], sampler, seed=seed)
        inds = out['frame_inds']
        # decoded pixels are exactly the sampled frames
        assert [read_code(f) for f in out['img']] == inds.tolist()
        # one second at this fps, honoured to the nearest frame
        assert out['frame_gap'] == round(fps) == inds[1] - inds[0]
        gap_s = out['frame_times'][1] - out['frame_times'][0]
        assert abs(gap_s - 1.0) <= 0.5 / fps + 1e-9
        np.testing.assert_allclose(out['frame_times'], inds / fps)
        assert not out['gap_clamped']
        assert 0 <= inds[0] and inds[1] < 90
        assert out['img'][0].shape == (64, 96, 3)
        assert out['img'][0].dtype == np.uint8
        assert 'video_reader' not in out
        starts.add(int(inds[0]))
    assert len(starts) > 1  # the start is random


def test_gap_ranges_in_seconds_and_in_frames(videos):
    np.random.seed(0)
    opened = OpenVideo()(dict(filename=videos[25]))
    seconds = SampleFramePair(gap_range=(0.5, 2.0), gap_unit='second')
    gaps = [seconds(dict(opened))['frame_gap'] for _ in range(300)]
    assert min(gaps) >= round(0.5 * 25) and max(gaps) <= 2 * 25
    assert min(gaps) <= 16 and max(gaps) >= 46  # the range is covered
    frames = SampleFramePair(gap_range=(3, 7), gap_unit='frame')
    gaps = [frames(dict(opened))['frame_gap'] for _ in range(300)]
    assert set(gaps) == {3, 4, 5, 6, 7}
    # and the frames decoded at a frame gap are the right ones
    out = run_pair(videos[10], SampleFramePair((7, 7), 'frame'), seed=3)
    assert [read_code(f) for f in out['img']] == out['frame_inds'].tolist()
    assert out['frame_inds'][1] - out['frame_inds'][0] == 7


def test_random_order_swaps_views(videos):
    sampler = SampleFramePair((5, 5), 'frame', random_order=True)
    np.random.seed(0)
    opened = OpenVideo()(dict(filename=videos[25]))
    diffs = {
        int(np.diff(sampler(dict(opened))['frame_inds'])[0])
        for _ in range(50)
    }
    assert diffs == {5, -5}


def test_short_video_clamps_and_counts_or_skips(videos):
    out = run_pair(videos['short'], SampleFramePair((1.0, 1.0), 'second'))
    # 1 s at 25 fps is 25 frames; the video has 5: longest gap is 4
    assert out['gap_clamped'] is True
    assert out['frame_gap'] == 4
    assert out['frame_inds'].tolist() == [0, 4]
    assert [read_code(f) for f in out['img']] == [0, 4]
    with pytest.raises(VideoReadError, match='short.mp4.*5 frames'):
        run_pair(videos['short'],
                 SampleFramePair((1.0, 1.0), short_video='skip'))


def test_decode_reads_only_the_two_frames(videos):
    """One get_batch call with the two indices; nothing else is decoded."""
    calls = []

    class SpyReader:

        def __init__(self, reader):
            self._reader = reader

        def get_batch(self, indices):
            calls.append(('get_batch', list(indices)))
            return self._reader.get_batch(indices)

        def __getattr__(self, name):
            calls.append((name, None))
            return getattr(self._reader, name)

        def __getitem__(self, idx):
            calls.append(('__getitem__', idx))
            return self._reader[idx]

    np.random.seed(1)
    results = OpenVideo()(dict(filename=videos[30]))
    results['video_reader'] = SpyReader(results['video_reader'])
    results = SampleFramePair((1.0, 1.0))(results)
    out = DecodeFramePair()(results)
    assert calls == [('get_batch', out['frame_inds'].tolist())]


def test_channel_order(videos):
    bgr = run_pair(videos[25], SampleFramePair(), 'bgr')['img'][0]
    rgb = run_pair(videos[25], SampleFramePair(), 'rgb')['img'][0]
    strip_bgr = bgr[:, 70:].reshape(-1, 3).mean(0)
    strip_rgb = rgb[:, 70:].reshape(-1, 3).mean(0)
    # the strip is pure red: BGR puts it last (as LoadImageFromFile would)
    assert strip_bgr[2] > 200 and strip_bgr[0] < 50
    assert strip_rgb[0] > 200 and strip_rgb[2] < 50
    np.testing.assert_array_equal(bgr, rgb[..., ::-1])


@pytest.mark.parametrize(
    'name',
    ['zero_bytes', 'truncated', 'corrupt_header', 'not_a_video', 'missing'])
def test_unreadable_videos_raise_a_clear_error(bad_videos, name):
    with pytest.raises(VideoReadError) as info:
        OpenVideo()(dict(filename=bad_videos[name]))
    assert bad_videos[name] in str(info.value)
    if name == 'missing':
        assert 'not found' in str(info.value)
    if name == 'zero_bytes':
        assert '0 bytes' in str(info.value)


def test_one_frame_video_cannot_give_a_pair(bad_videos):
    opened = OpenVideo()(dict(filename=bad_videos['one_frame']))
    assert opened['total_frames'] == 1
    with pytest.raises(VideoReadError, match='1 frame'):
        SampleFramePair((1.0, 1.0))(opened)


def test_invalid_fps_only_matters_for_gaps_in_seconds():
    results = dict(filename='x.mp4', total_frames=50, avg_fps=float('nan'))
    with pytest.raises(VideoReadError, match='invalid fps'):
        SampleFramePair((1.0, 1.0), 'second')(dict(results))
    out = SampleFramePair((4, 4), 'frame')(dict(results))
    assert out['frame_gap'] == 4 and np.isnan(out['frame_times']).all()


@pytest.mark.parametrize('kwargs, field', [
    (dict(gap_range=(2.0, 1.0)), 'gap_range'),
    (dict(gap_range=(-1.0, 1.0)), 'gap_range'),
    (dict(gap_range=(1.0, )), 'gap_range'),
    (dict(gap_range=(1.5, 3), gap_unit='frame'), 'gap_range'),
    (dict(gap_unit='minute'), 'gap_unit'),
    (dict(short_video='pad'), 'short_video'),
])
def test_bad_sampler_config_names_the_field(kwargs, field):
    with pytest.raises(ValueError, match=field):
        SampleFramePair(**kwargs)


def test_bad_decode_config_names_the_field():
    with pytest.raises(ValueError, match='channel_order'):
        DecodeFramePair(channel_order='yuv')
    with pytest.raises(ValueError, match='num_threads'):
        OpenVideo(num_threads=-1)


def test_registered_for_mmpretrain_and_mmaction(videos):
    from mmaction.registry import TRANSFORMS as ACTION_TRANSFORMS
    from mmpretrain.registry import TRANSFORMS as PRETRAIN_TRANSFORMS
    for registry in (PRETRAIN_TRANSFORMS, ACTION_TRANSFORMS):
        for name in ('OpenVideo', 'SampleFramePair', 'DecodeFramePair',
                     'PairedMultiView'):
            assert registry.get(name) is not None, (registry.scope, name)
    # mmaction2's own DecordInit / DecordDecode interoperate with the pair
    # sampler (same keys), built as an mmaction2 config would
    with DefaultScope.overwrite_default_scope('mmaction'):
        init = ACTION_TRANSFORMS.build(dict(type='DecordInit'))
        decode = ACTION_TRANSFORMS.build(dict(type='DecordDecode'))
        sampler = ACTION_TRANSFORMS.build(
            dict(type='SampleFramePair', gap_range=(1.0, 1.0)))
    np.random.seed(2)
    out = decode(sampler(init(dict(filename=videos[25]))))
    assert [read_code(f) for f in out['imgs']] == out['frame_inds'].tolist()
    assert osp.isfile(videos[25])
