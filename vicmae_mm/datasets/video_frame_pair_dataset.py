# Copyright (c) vicmae_mm contributors. All rights reserved.
"""Videos whose samples are pairs of frames (ViC-MAE's video views)."""
import os.path as osp
from typing import Callable, List, Optional, Sequence, Union

import numpy as np
from mmengine.dataset import BaseDataset
from mmpretrain.registry import DATASETS

from .annotation_lists import (VIDEO_EXTENSIONS, parse_annotation_list,
                               scan_folder)
from .robust_fetch import attach_skip_records, fetch_with_retries


@DATASETS.register_module()
class VideoFramePairDataset(BaseDataset):
    """A video dataset whose items become frame pairs (two views).

    Items are ``dict(filename, label)`` from a list or a folder scan. Files
    are not checked up front (millions of stat calls on network storage): a
    bad video is replaced at load time. Standalone it draws from the global
    RNGs; in :class:`MixedPairDataset` it is seeded per sample.

    Args:
        ann_file (str): Annotation list; ``''`` scans the video folder.
        data_root (str): Root joined to ``ann_file`` and ``data_prefix``.
        data_prefix (dict): ``dict(video=folder)``.
        pipeline (Sequence): Transforms.
        extensions (Sequence[str]): Video extensions for folder scanning.
        max_retries (int): Replacements tried after a bad file (max_refetch).
        backend_args (dict, optional): File backend arguments for the list.
        **kwargs: Other :class:`mmengine.dataset.BaseDataset` arguments.
    """

    #: what :class:`MixedPairDataset` and the sampler call this source
    SAMPLE_KIND = 'video'

    def __init__(self,
                 ann_file: str = '',
                 data_root: str = '',
                 data_prefix: Union[str, dict] = dict(video=''),
                 pipeline: Sequence[Union[dict, Callable]] = (),
                 extensions: Sequence[str] = VIDEO_EXTENSIONS,
                 max_retries: int = 10,
                 backend_args: Optional[dict] = None,
                 **kwargs) -> None:
        if isinstance(data_prefix, str):
            data_prefix = dict(video=data_prefix)
        if set(data_prefix) != {'video'}:
            raise ValueError(f'VideoFramePairDataset: data_prefix must be '
                             f"dict(video=...), got {data_prefix!r}")
        if not isinstance(max_retries, int) or max_retries < 0:
            raise ValueError(f'VideoFramePairDataset: max_retries must be an '
                             f'int >= 0, got {max_retries!r}')
        self.extensions = tuple(extensions)
        self.backend_args = backend_args
        super().__init__(
            ann_file=ann_file,
            data_root=data_root,
            data_prefix=data_prefix,
            pipeline=list(pipeline),
            max_refetch=max_retries,
            **kwargs)

    def load_data_list(self) -> List[dict]:
        """Parse the list (or scan the folder)."""
        prefix = self.data_prefix['video']
        if self.ann_file:
            entries = parse_annotation_list(self.ann_file, self.backend_args)
        elif prefix:
            entries = [(p, -1) for p in scan_folder(prefix, self.extensions)]
        else:
            raise ValueError('VideoFramePairDataset: give ann_file or '
                             "data_prefix=dict(video=<folder>) to scan")
        if not entries:
            raise ValueError('VideoFramePairDataset: no videos in '
                             f'{self.ann_file or prefix}')
        return [
            dict(filename=osp.join(prefix, rel), label=label)
            for rel, label in entries
        ]

    def __getitem__(self, idx: int) -> dict:
        """The processed sample ``idx``; bad files are replaced."""
        self.full_init()
        if self.test_mode:
            return self.prepare_data(idx)
        data, records = fetch_with_retries(
            self, int(idx), source=self._source_name())
        return attach_skip_records(data, records)

    def _source_name(self) -> str:
        return self.ann_file or self.data_prefix['video'] or type(
            self).__name__

    def get_labels(self) -> np.ndarray:
        """Labels of all items (-1 where the list has none)."""
        return np.array(
            [self.get_data_info(i)['label'] for i in range(len(self))])
