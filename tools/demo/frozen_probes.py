# Copyright (c) vicmae_mm contributors. All rights reserved.
"""Frozen-feature probes of the demo: what an encoder's features know
without training the encoder.

A probe builds the model of a downstream demo config (an mmpretrain
``ImageClassifier`` or an mmaction2 ``Recognizer3D``, weights loaded by its
``init_cfg``), passes the train and val splits through the frozen backbone
once with the config's test pipeline, and fits classifiers on the features:

* ``knn``: the temperature-weighted kNN vote of ``KNNMonitorHook``
  (k = 20, cosine) with every train label;
* ``linear``: multinomial logistic regression (L2, scikit-learn defaults)
  on standardised features with every train label;
* ``linear_few``: the same with ``few_per_class`` labels per class, drawn
  by each seed (one value per seed; the summary shows mean and s.d.).

Hyper-parameters are fixed and the same for every initialisation.
"""
from dataclasses import dataclass
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np


@dataclass(frozen=True)
class Probe:
    """One frozen-feature probe.

    Args:
        name (str): Metric prefix (``<name>_knn``, ``<name>_linear``...).
        train_ann (str): Train annotation file, relative to the config's
            ``demo_data_root``.
        val_ann (str): Val annotation file, likewise.
        few_per_class (int): Labels per class of ``linear_few``.
        per_frame (bool): Video only: keep the time axis (spatial mean of
            each tubelet step, concatenated) instead of one mean over all
            tokens, so that motion stays linearly readable.
    """
    name: str
    train_ann: str
    val_ann: str
    few_per_class: int
    per_frame: bool = False


def few_label_subset(labels: np.ndarray, per_class: int,
                     seed: int) -> np.ndarray:
    """Indices of ``per_class`` samples of each class (all of a class that
    has fewer), drawn by ``seed``; sorted."""
    rng = np.random.default_rng(seed)
    picked = []
    for label in np.unique(labels):
        idx = np.flatnonzero(labels == label)
        picked.append(rng.choice(idx, min(per_class, len(idx)),
                                 replace=False))
    return np.sort(np.concatenate(picked))


def linear_top1(train_x: np.ndarray, train_y: np.ndarray,
                val_x: np.ndarray, val_y: np.ndarray) -> float:
    """Top-1 (%) of a logistic-regression probe on standardised features."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler
    if len(np.unique(train_y)) < 2:
        raise ValueError('a linear probe needs at least two classes in its '
                         f'training labels, got {np.unique(train_y)}')
    clf = make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000))
    clf.fit(train_x, train_y)
    return float((clf.predict(val_x) == val_y).mean() * 100)


def knn_top1(train_x: np.ndarray, train_y: np.ndarray, val_x: np.ndarray,
             val_y: np.ndarray, k: int = 20) -> float:
    """Top-1 (%) of KNNMonitorHook's weighted kNN vote."""
    import torch

    from vicmae_mm.engine.hooks.knn_monitor_hook import weighted_knn_predict
    pred = weighted_knn_predict(
        torch.from_numpy(train_x),
        torch.from_numpy(train_y).long(),
        torch.from_numpy(val_x),
        num_classes=int(max(train_y.max(), val_y.max())) + 1,
        k=min(k, len(train_y)))
    return float((pred.numpy() == val_y).mean() * 100)


def probe_scores(train: Tuple[np.ndarray, np.ndarray],
                 val: Tuple[np.ndarray, np.ndarray], few_per_class: int,
                 seeds: Sequence[int]) -> Dict[str, object]:
    """kNN, linear and few-label linear top-1 of one feature set.

    Returns:
        dict: ``knn`` and ``linear`` (floats), ``linear_few`` (one float
        per seed).
    """
    (tx, ty), (vx, vy) = train, val
    few = []
    for seed in seeds:
        idx = few_label_subset(ty, few_per_class, seed)
        few.append(round(linear_top1(tx[idx], ty[idx], vx, vy), 2))
    return dict(
        knn=round(knn_top1(tx, ty, vx, vy), 2),
        linear=round(linear_top1(tx, ty, vx, vy), 2),
        linear_few=few)


def _pool(feats, per_frame: bool):
    """``(B, D)`` features from a backbone output: clip maps
    ``(B, C, T, H, W)`` here, everything else as ``KNNMonitorHook`` pools
    it."""
    from vicmae_mm.engine.hooks.knn_monitor_hook import _pooled
    if isinstance(feats, (tuple, list)):
        feats = feats[-1]
    if feats.dim() == 5:
        feats = feats.mean(dim=(3, 4))  # (B, C, T)
        return feats.flatten(1) if per_frame else feats.mean(dim=2)
    return _pooled(feats)


def extract_features(model, loader, per_frame: bool = False,
                     max_samples: Optional[int] = None
                     ) -> Tuple[np.ndarray, np.ndarray]:
    """Frozen backbone features and labels of every sample of ``loader``.

    Args:
        model: A built mmpretrain classifier or mmaction2 recognizer with
            its weights initialised.
        loader: A dataloader of the model's own data format.
        per_frame (bool): See :class:`Probe`.
        max_samples (int, optional): Stop after this many (quick runs).

    Returns:
        tuple: ``(N, D)`` float32 features and ``(N,)`` int64 labels.
    """
    import torch
    model.eval()
    feats: List[np.ndarray] = []
    labels: List[int] = []
    with torch.no_grad():
        for data in loader:
            data = model.data_preprocessor(data, False)
            inputs = data['inputs']
            if inputs.dim() == 6:  # (B, clips, C, T, H, W): mmaction2
                inputs = inputs.flatten(0, 1)
            out = _pool(model.backbone(inputs), per_frame)
            feats.append(out.float().numpy())
            labels += [int(s.gt_label.reshape(-1)[0])
                       for s in data['data_samples']]
            if max_samples is not None and len(labels) >= max_samples:
                break
    if not labels:
        raise ValueError('the probe dataloader yielded no sample')
    return np.concatenate(feats), np.asarray(labels, dtype=np.int64)
