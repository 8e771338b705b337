# Copyright (c) vicmae_mm contributors. All rights reserved.
"""The demo's frozen-feature probes (tools/demo/frozen_probes.py): label
subsets, classifiers and pooling, checked against direct computations."""
import os.path as osp
import sys

import numpy as np
import pytest
import torch

from helpers import REPO_ROOT

sys.path.insert(0, osp.join(REPO_ROOT, 'tools', 'demo'))

import frozen_probes as fp  # noqa: E402
from demo_summary import seeded  # noqa: E402


def test_few_label_subset_takes_n_per_class_by_seed():
    labels = np.repeat(np.arange(4), [6, 6, 6, 2])
    a = fp.few_label_subset(labels, 3, seed=0)
    counts = np.bincount(labels[a], minlength=4)
    # three of each class, all of a class that has fewer
    assert counts.tolist() == [3, 3, 3, 2]
    assert np.array_equal(a, fp.few_label_subset(labels, 3, seed=0))
    assert not np.array_equal(a, fp.few_label_subset(labels, 3, seed=1))


def _blobs(n, dim, classes, rng, spread):
    centres = rng.normal(0, 5, (classes, dim))
    y = np.arange(n) % classes
    x = centres[y] + rng.normal(0, spread, (n, dim))
    return x.astype(np.float32), y.astype(np.int64)


def test_classifiers_separate_blobs_and_stay_at_chance_on_noise():
    rng = np.random.default_rng(0)
    x, y = _blobs(400, 16, 4, rng, spread=0.5)
    train, val = (x[:200], y[:200]), (x[200:], y[200:])
    scores = fp.probe_scores(train, val, few_per_class=5, seeds=(0, 1, 2))
    assert scores['knn'] == 100.0 and scores['linear'] == 100.0
    assert scores['linear_few'] == [100.0] * 3
    # labels unrelated to the features: near chance (25%)
    noise = rng.normal(size=(400, 16)).astype(np.float32)
    labels = rng.integers(0, 4, 400)
    scores = fp.probe_scores((noise[:200], labels[:200]),
                             (noise[200:], labels[200:]), 5, (0, 1, 2))
    for value in [scores['knn'], scores['linear']] + scores['linear_few']:
        assert 10.0 <= value <= 45.0, scores


def test_knn_is_the_monitor_hooks_vote():
    from vicmae_mm.engine.hooks.knn_monitor_hook import weighted_knn_predict
    rng = np.random.default_rng(1)
    x, y = _blobs(120, 8, 3, rng, spread=4.0)
    pred = weighted_knn_predict(
        torch.from_numpy(x[:80]), torch.from_numpy(y[:80]),
        torch.from_numpy(x[80:]), num_classes=3, k=20).numpy()
    assert fp.knn_top1(x[:80], y[:80], x[80:], y[80:]) == pytest.approx(
        (pred == y[80:]).mean() * 100)


def test_linear_probe_needs_two_classes():
    x = np.zeros((4, 2), np.float32)
    with pytest.raises(ValueError, match='two classes'):
        fp.linear_top1(x, np.zeros(4, np.int64), x, np.zeros(4, np.int64))


def test_pooling_keeps_time_only_when_asked():
    # seeded: on about 0.5% of random draws the float32 rounding of a mean
    # of means exceeds allclose's tolerance for a mean near zero
    gen = torch.Generator().manual_seed(0)
    feats = torch.randn(2, 3, 4, 5, 5, generator=gen)  # (B, C, T, h, w)
    per_time = feats.mean(dim=(3, 4))
    assert torch.equal(fp._pool(feats, per_frame=True), per_time.flatten(1))
    assert torch.allclose(fp._pool(feats, per_frame=False),
                          feats.mean(dim=(2, 3, 4)))
    image = torch.randn(2, 3, 4, 4, generator=gen)
    assert torch.allclose(fp._pool((image, ), False), image.mean(dim=(2, 3)))


def test_seeded_statistics():
    out = seeded([10.0, 20.0, 30.0])
    assert out == dict(mean=20.0, sd=10.0, values=[10.0, 20.0, 30.0])
    assert seeded([5.0])['sd'] == 0.0
