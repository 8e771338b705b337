# Copyright (c) vicmae_mm contributors. All rights reserved.
"""MixedRatioSampler: image:video ratio per epoch on every rank, resumable
order, epoch-tagged indices."""
import pytest
from mmengine.registry import init_default_scope

import vicmae_mm  # noqa: F401
import vicmae_mm.datasets.mixed_ratio_sampler as sampler_module
from frame_pair_data import write_list
from vicmae_mm.datasets import (MixedPairDataset, MixedRatioSampler,
                                VideoFramePairDataset)

NUM_VIDEOS, NUM_IMAGES = 700, 300


@pytest.fixture(autouse=True)
def pretrain_scope():
    init_default_scope('mmpretrain')


@pytest.fixture(scope='module')
def mixed(tmp_path_factory):
    """A real MixedPairDataset (lists only; no file is opened here)."""
    root = tmp_path_factory.mktemp('sampler_lists')
    videos = write_list(
        str(root / 'videos.txt'),
        [f'v{i}.mp4 {i % 5}' for i in range(NUM_VIDEOS)])
    images = write_list(
        str(root / 'images.txt'),
        [f'i{i}.png {i % 5}' for i in range(NUM_IMAGES)])
    return MixedPairDataset(datasets=[
        VideoFramePairDataset(ann_file=videos),
        dict(type='CustomDataset', ann_file=images, with_label=True),
    ])


def build(monkeypatch, dataset, rank, world_size, **kwargs):
    monkeypatch.setattr(sampler_module, 'get_dist_info', lambda:
                        (rank, world_size))
    return MixedRatioSampler(dataset, seed=kwargs.pop('seed', 7), **kwargs)


def kinds_of(dataset, indices):
    return [dataset.kinds[dataset.locate(i)[0]] for i in indices]


@pytest.mark.parametrize('ratio, interleave', [((1, 3), 'even'),
                                               ((3, 7), 'even'),
                                               ((2, 1), 'random')])
def test_ratio_holds_per_epoch_on_each_of_two_ranks(monkeypatch, mixed, ratio,
                                                    interleave):
    target = ratio[0] / sum(ratio)
    for epoch in (0, 1, 5):
        seen = []
        for rank in (0, 1):
            sampler = build(
                monkeypatch,
                mixed,
                rank,
                2,
                image_video_ratio=ratio,
                interleave=interleave)
            sampler.set_epoch(epoch)
            tagged = list(sampler)
            assert len(tagged) == len(sampler) == 500
            # epoch-tagged indices
            assert all(t // len(mixed) == epoch for t in tagged)
            indices = [t % len(mixed) for t in tagged]
            kinds = kinds_of(mixed, indices)
            realised = kinds.count('image') / len(kinds)
            assert abs(realised - target) <= 0.02, (epoch, rank, realised)
            if interleave == 'even':
                # every batch of 64 keeps the ratio too (to one sample)
                for b in range(0, len(kinds) - 63, 64):
                    n_img = kinds[b:b + 64].count('image')
                    assert abs(n_img - 64 * target) <= 1.0
            seen.append(indices)
        # 3:7 asks each kind for exactly its size per epoch: the two ranks
        # then see every item exactly once between them
        if ratio == (3, 7):
            assert sorted(seen[0] + seen[1]) == list(range(len(mixed)))


def test_order_is_a_pure_function_of_seed_and_epoch(monkeypatch, mixed):
    """What mmengine's resume relies on: a fresh sampler (new process) set to
    epoch e yields what the original yielded in epoch e."""
    first = build(monkeypatch, mixed, 0, 2, image_video_ratio=(1, 1))
    per_epoch = []
    for epoch in range(3):
        first.set_epoch(epoch)
        per_epoch.append(list(first))
    assert per_epoch[0] != per_epoch[1]
    # items differ by more than the epoch tag
    n = len(mixed)
    assert [t % n for t in per_epoch[1]] != [t % n for t in per_epoch[2]]
    resumed = build(monkeypatch, mixed, 0, 2, image_video_ratio=(1, 1))
    resumed.set_epoch(2)
    assert list(resumed) == per_epoch[2]
    assert list(resumed) == per_epoch[2]  # iterating again: same order
    other_seed = build(
        monkeypatch, mixed, 0, 2, image_video_ratio=(1, 1), seed=8)
    other_seed.set_epoch(2)
    assert list(other_seed) != per_epoch[2]


def test_small_kind_is_cycled_and_covered(monkeypatch, mixed):
    # 1:1 over 1000 samples wants 500 images per epoch; there are 300
    seen = set()
    sampler = build(monkeypatch, mixed, 0, 1, image_video_ratio=(1, 1))
    images = set(mixed.indices_of_kind('image'))
    indices = [t % len(mixed) for t in sampler]
    chosen = [i for i in indices if i in images]
    assert len(chosen) == 500 and set(chosen) == images
    # videos (700, quota 500) are all covered within two epochs
    for epoch in (0, 1):
        sampler.set_epoch(epoch)
        seen |= {t % len(mixed) for t in sampler} - images
    assert seen == set(mixed.indices_of_kind('video'))


def test_without_ratio_every_item_once_per_epoch(monkeypatch, mixed):
    union = []
    for rank in (0, 1):
        sampler = build(monkeypatch, mixed, rank, 2)
        sampler.set_epoch(3)
        union += [t % len(mixed) for t in sampler]
    assert sorted(union) == list(range(len(mixed)))


def test_seed_reaches_the_dataset(monkeypatch, mixed):
    build(monkeypatch, mixed, 0, 1, seed=1234)
    assert mixed.seed == 1234


@pytest.mark.parametrize('kwargs, field', [
    (dict(image_video_ratio=(1, )), 'image_video_ratio'),
    (dict(image_video_ratio=(0, 0)), 'image_video_ratio'),
    (dict(image_video_ratio=(-1, 2)), 'image_video_ratio'),
    (dict(interleave='zigzag'), 'interleave'),
    (dict(samples_per_epoch=0), 'samples_per_epoch'),
])
def test_bad_config_names_the_field(monkeypatch, mixed, kwargs, field):
    with pytest.raises(ValueError, match=field):
        build(monkeypatch, mixed, 0, 1, **kwargs)


def test_ratio_needs_both_kinds(monkeypatch, tmp_path):
    videos = write_list(str(tmp_path / 'v.txt'), ['a.mp4', 'b.mp4'])
    only_video = MixedPairDataset(
        datasets=[VideoFramePairDataset(ann_file=videos)])
    with pytest.raises(ValueError, match='no image source'):
        build(monkeypatch, only_video, 0, 1, image_video_ratio=(1, 1))
    # video-only with ratio (0, 1) is fine
    sampler = build(monkeypatch, only_video, 0, 1, image_video_ratio=(0, 1))
    assert sorted(t % 2 for t in sampler) == [0, 1]
    with pytest.raises(TypeError, match='MixedPairDataset'):
        build(monkeypatch, [1, 2, 3], 0, 1)
