# Copyright (c) vicmae_mm contributors. All rights reserved.
"""Distributed sampler with a fixed image:video ratio on every rank."""
import math
from typing import Iterator, List, Optional, Sequence

import numpy as np
import torch
from mmengine.dist import get_dist_info, sync_random_seed
from mmpretrain.registry import DATA_SAMPLERS
from torch.utils.data import Sampler

from .sample_seeding import sample_seed, tag_index

# salts that keep the sampler's RNG streams apart from the per-sample ones
_STREAM_SALT = 0x5EED
_INTERLEAVE_SALT = 0x1A7E


@DATA_SAMPLERS.register_module()
class MixedRatioSampler(Sampler):
    """Shuffle a :class:`MixedPairDataset` with a fixed image:video ratio.

    Every rank gets ``ceil(samples_per_epoch / world_size)`` samples in the
    ratio. The order is a pure function of ``(seed, epoch)``, so mmengine's
    mid-epoch resume replays it (docs/data_preparation.md).

    Args:
        dataset (MixedPairDataset): The dataset.
        image_video_ratio (Sequence[float], optional): None: each item once.
        shuffle (bool): Shuffle within each kind.
        seed (int, optional): Shared by all ranks; None draws and syncs one.
        samples_per_epoch (int, optional): Over all ranks; None: the size.
        interleave (str): ``'even'`` (spread each kind evenly) or ``'random'``.
    """

    INTERLEAVES = ('even', 'random')

    def __init__(self,
                 dataset,
                 image_video_ratio: Optional[Sequence[float]] = None,
                 shuffle: bool = True,
                 seed: Optional[int] = None,
                 samples_per_epoch: Optional[int] = None,
                 interleave: str = 'even') -> None:
        if not all(
                hasattr(dataset, a)
                for a in ('indices_of_kind', 'set_sample_seed')):
            raise TypeError(f'MixedRatioSampler needs a MixedPairDataset, '
                            f'got {type(dataset).__name__}')
        if interleave not in self.INTERLEAVES:
            raise ValueError(f'MixedRatioSampler: interleave must be one of '
                             f'{self.INTERLEAVES}, got {interleave!r}')
        self.rank, self.world_size = get_dist_info()
        self.dataset = dataset
        self.shuffle = shuffle
        self.interleave = interleave
        self.seed = sync_random_seed() if seed is None else int(seed)
        self.epoch = 0
        if image_video_ratio is None:
            self.groups = [np.arange(len(dataset), dtype=np.int64)]
            self.weights = [1.0]
            self.group_names = ['all']
        else:
            ratio = list(image_video_ratio)
            if (len(ratio) != 2 or not all(
                    isinstance(r, (int, float)) and math.isfinite(r) and r >= 0
                    for r in ratio) or sum(ratio) <= 0):
                raise ValueError(
                    f'MixedRatioSampler: image_video_ratio must be two '
                    f'weights >= 0 (image, video), not both 0; got '
                    f'{image_video_ratio!r}')
            self.groups, self.weights, self.group_names = [], [], []
            for kind, weight in zip(('image', 'video'), ratio):
                if weight == 0:
                    continue
                members = dataset.indices_of_kind(kind)
                if not members:
                    raise ValueError(
                        f'MixedRatioSampler: image_video_ratio gives {kind}s '
                        f'weight {weight} but the dataset has no {kind} '
                        f'source (kinds: {dataset.kinds})')
                self.groups.append(np.asarray(members, dtype=np.int64))
                self.weights.append(float(weight))
                self.group_names.append(kind)
        total = len(
            dataset) if samples_per_epoch is None else samples_per_epoch
        if not isinstance(total, int) or total <= 0:
            raise ValueError(f'MixedRatioSampler: samples_per_epoch must be '
                             f'a positive int, got {samples_per_epoch!r}')
        self.samples_per_epoch = total
        self.num_samples = math.ceil(total / self.world_size)
        self.quotas = self._quotas(self.num_samples, self.weights)
        # every worker (and every later resume) shares this seed
        dataset.set_sample_seed(self.seed)

    @staticmethod
    def _quotas(n: int, weights: List[float]) -> List[int]:
        """Split ``n`` by ``weights`` with the largest-remainder method."""
        exact = [n * w / sum(weights) for w in weights]
        quotas = [int(math.floor(e)) for e in exact]
        order = sorted(
            range(len(weights)), key=lambda g: (quotas[g] - exact[g], g))
        for g in order[:n - sum(quotas)]:
            quotas[g] += 1
        return quotas

    def _generator(self, *keys: int) -> torch.Generator:
        return torch.Generator().manual_seed(sample_seed(self.seed, *keys))

    def _stream(self, group: int, start: int, stop: int) -> np.ndarray:
        """Items ``[start, stop)`` of a group's seeded permutation chain."""
        members = self.groups[group]
        size = len(members)
        parts = [np.zeros(0, dtype=np.int64)]
        for rnd in range(start // size, (stop - 1) // size + 1):
            if self.shuffle:
                gen = self._generator(_STREAM_SALT + group, rnd, 0)
                perm = torch.randperm(size, generator=gen).numpy()
            else:
                perm = np.arange(size)
            lo = max(start - rnd * size, 0)
            parts.append(members[perm[lo:min(stop - rnd * size, size)]])
        return np.concatenate(parts)

    def _interleave(self, per_group: List[np.ndarray]) -> np.ndarray:
        if len(per_group) == 1:
            return per_group[0]
        merged = np.concatenate(per_group)
        if self.interleave == 'random':
            gen = self._generator(_INTERLEAVE_SALT, self.epoch, self.rank)
            return merged[torch.randperm(len(merged), generator=gen).numpy()]
        # even: a stable sort on (j + 0.5) / n spreads each kind of n items
        keys = np.concatenate([(np.arange(len(p)) + 0.5) / len(p)
                               for p in per_group if len(p)] + [np.zeros(0)])
        return merged[np.argsort(keys, kind='stable')]

    def epoch_indices(self) -> List[int]:
        """Untagged indices of this rank for the current epoch."""
        per_group = []
        for g, quota in enumerate(self.quotas):
            span = quota * self.world_size
            drawn = self._stream(g, self.epoch * span, (self.epoch + 1) * span)
            per_group.append(drawn[self.rank::self.world_size])
        return self._interleave(per_group).tolist()

    def __iter__(self) -> Iterator[int]:
        n = len(self.dataset)
        return iter(
            [tag_index(self.epoch, i, n) for i in self.epoch_indices()])

    def __len__(self) -> int:
        """Samples of this rank per epoch."""
        return self.num_samples

    def set_epoch(self, epoch: int) -> None:
        """Select the epoch (changes the order and every sample's seed)."""
        self.epoch = int(epoch)
