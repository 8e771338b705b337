# Copyright (c) vicmae_mm contributors. All rights reserved.
"""Image and video pair datasets behind one index, seeded per sample."""
from typing import List, Optional, Sequence, Tuple, Union

from mmengine.dataset import BaseDataset, ConcatDataset
from mmpretrain.registry import DATASETS

from .robust_fetch import attach_skip_records, fetch_with_retries
from .sample_seeding import sample_seed, seeded_global_rngs, untag_index

SAMPLE_KINDS = ('image', 'video')


@DATASETS.register_module()
class MixedPairDataset(ConcatDataset):
    """Image and video pair datasets behind one index, seeded per sample.

    The sources' pipelines end in two views; their meta need not agree. It
    takes :class:`MixedRatioSampler`'s epoch-tagged indices; a bad file is
    replaced by an item of the same source (docs/data_preparation.md).

    Args:
        datasets (Sequence[dict | BaseDataset]): The sources.
        kinds (Sequence[str], optional): Per source; None: SAMPLE_KIND/image.
        max_retries (int): Replacement items tried after a bad file.
        seed (int, optional): Per-sample seed base; None: the sampler sets it.
        lazy_init (bool): Load the sources' annotations in :meth:`full_init`.
    """

    def __init__(self,
                 datasets: Sequence[Union[dict, BaseDataset]],
                 kinds: Optional[Sequence[str]] = None,
                 max_retries: int = 10,
                 seed: Optional[int] = None,
                 lazy_init: bool = False) -> None:
        if not datasets:
            raise ValueError('MixedPairDataset: datasets is empty')
        # built here (mmpretrain's registry) to list the meta keys to ignore
        built = [
            DATASETS.build(d) if isinstance(d, dict) else d for d in datasets
        ]
        for i, d in enumerate(built):
            if not isinstance(d, BaseDataset):
                raise TypeError(
                    f'MixedPairDataset: source {i} ({type(d).__name__}) must '
                    'be an mmengine BaseDataset')
        kinds = list(kinds) if kinds is not None else [
            getattr(d, 'SAMPLE_KIND', 'image') for d in built
        ]
        if len(kinds) != len(built) or any(k not in SAMPLE_KINDS
                                           for k in kinds):
            raise ValueError(f'MixedPairDataset: kinds must give one of '
                             f'{SAMPLE_KINDS} per dataset ({len(built)}), '
                             f'got {kinds!r}')
        if not isinstance(max_retries, int) or max_retries < 0:
            raise ValueError(f'MixedPairDataset: max_retries must be an int '
                             f'>= 0, got {max_retries!r}')
        self.kinds = kinds
        self.max_retries = max_retries
        self.seed = seed
        super().__init__(
            built,
            lazy_init=lazy_init,
            ignore_keys=sorted({k for d in built for k in d.metainfo}))

    def full_init(self) -> None:
        """Load every source's annotations and index the concatenation."""
        if self._fully_initialized:
            return
        super().full_init()
        for i, d in enumerate(self.datasets):
            if len(d) == 0:
                raise ValueError(f'MixedPairDataset: source {i} '
                                 f'({self.source_name(i)}) is empty')

    @property
    def metainfo(self) -> dict:
        """Meta information: the sources' kinds and sizes."""
        self.full_init()
        return dict(
            kinds=list(self.kinds),
            sizes=[len(d) for d in self.datasets],
            sources=[self.source_name(i) for i in range(len(self.datasets))])

    def source_name(self, i: int) -> str:
        """A readable name for source ``i`` (its list file or folder)."""
        d = self.datasets[i]
        name = getattr(d, 'ann_file', '') or ''
        if not name and isinstance(getattr(d, 'data_prefix', None), dict):
            name = next(iter(d.data_prefix.values()), '') or ''
        return name or f'{type(d).__name__}[{i}]'

    def set_sample_seed(self, seed: int) -> None:
        """Set the per-sample seed base (called by the sampler)."""
        self.seed = int(seed)

    def locate(self, idx: int) -> Tuple[int, int]:
        """``(source, local index)`` of untagged index ``idx``."""
        if not 0 <= idx < len(self):
            raise IndexError(f'index {idx} out of range for {len(self)}')
        return self._get_ori_dataset_idx(idx)

    def indices_of_kind(self, kind: str) -> List[int]:
        """All untagged indices of sources of ``kind``."""
        self.full_init()
        starts = [0] + self.cumulative_sizes[:-1]
        out: List[int] = []
        for k, start, end in zip(self.kinds, starts, self.cumulative_sizes):
            if k == kind:
                out.extend(range(start, end))
        return out

    def __getitem__(self, tagged_idx: int) -> dict:
        """Sample ``idx`` of ``epoch`` (``tagged_idx = epoch * len + idx``)."""
        if self.seed is None:
            raise RuntimeError(
                'MixedPairDataset has no sample seed: use it with '
                "sampler=dict(type='MixedRatioSampler'), or set `seed` and "
                'index it as epoch * len(dataset) + i yourself')
        epoch, idx = untag_index(tagged_idx, len(self))
        source, local = self.locate(idx)

        def attempt_seed(attempt: int):
            return seeded_global_rngs(
                sample_seed(self.seed, epoch, idx, attempt))

        data, records = fetch_with_retries(
            self.datasets[source],
            local,
            self.max_retries,
            attempt_seed=attempt_seed,
            source=self.source_name(source))
        for r in records:
            r['epoch'] = epoch
        return attach_skip_records(
            data,
            records,
            sample_kind=self.kinds[source],
            sample_epoch=epoch,
            mixed_idx=idx)

    def get_data_info(self, idx: int) -> dict:
        """Annotation of untagged index ``idx`` (from its source)."""
        return dict(
            super().get_data_info(idx),
            sample_kind=self.kinds[self.locate(idx)[0]])
