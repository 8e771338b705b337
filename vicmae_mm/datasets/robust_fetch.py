# Copyright (c) vicmae_mm contributors. All rights reserved.
"""Fetch a sample, replacing bad files (mmengine's ``_rand_another`` for
files that raise) with bounded retries; see docs/data_preparation.md."""
import logging
from contextlib import nullcontext
from typing import Any, Callable, Dict, List, Optional, Tuple

import cv2
from mmengine.dataset import BaseDataset
from mmengine.logging import print_log

from .sample_errors import SampleLoadError


def _is_bad_input(err: BaseException) -> bool:
    """Whether ``err`` means a bad file (bugs and bad configs propagate)."""
    # our loaders' SampleLoadError (an OSError), OSError from file backends
    if isinstance(err, OSError):
        return True
    # OpenCV could not decode the file's bytes (e.g. a 0-byte image)
    if isinstance(err, cv2.error) and 'imdecode' in str(err):
        return True
    # mmcv's undecodable-image assertion
    return (isinstance(err, AssertionError)
            and str(err).startswith('failed to load image'))


def _path_of(dataset, index: int) -> str:
    try:
        info = dataset.get_data_info(index)
    except Exception:  # the path is only for messages
        info = {}
    for key in ('filename', 'img_path', 'video_path'):
        if info.get(key):
            return str(info[key])
    return f'<index {index}>'


def fetch_with_retries(
    dataset: BaseDataset,
    index: int,
    max_retries: Optional[int] = None,
    attempt_seed: Optional[Callable[[int], Any]] = None,
    source: str = '',
) -> Tuple[Any, List[Dict[str, Any]]]:
    """Run ``dataset.prepare_data`` on ``index``, replacing bad files.

    Args:
        max_retries (int, optional): None: the dataset's ``max_refetch``.
        attempt_seed (callable, optional): Per-attempt context (redraw in it).
        source (str): Dataset name for messages.

    Returns:
        tuple: ``(data, records)``; records have ``path``, ``reason``,
        ``index`` and ``source``.

    Raises:
        SampleLoadError: If ``max_retries + 1`` items in a row failed.
    """
    if max_retries is None:
        max_retries = dataset.max_refetch
    records: List[Dict[str, Any]] = []
    current = index
    for attempt in range(max_retries + 1):
        with attempt_seed(attempt) if attempt_seed else nullcontext():
            try:
                data = dataset.prepare_data(current)
                reason = 'the pipeline returned None'
            except Exception as err:
                if not _is_bad_input(err):
                    raise
                data, reason = None, str(err)
            if data is not None:
                return data, records
            path = _path_of(dataset, current)
            record = dict(
                path=path, reason=reason, index=int(current), source=source)
            records.append(record)
            print_log(
                f'skipped bad sample {path} ({source}): {reason}; '
                f'resampling (attempt {attempt + 1}/{max_retries + 1})',
                logger='current',
                level=logging.WARNING)
            current = int(dataset._rand_another())
    listing = '\n'.join(f'  {r["path"]}: {r["reason"]}' for r in records)
    raise SampleLoadError(
        f'{len(records)} consecutive samples of {source or "the dataset"} '
        f'failed to load (max_retries={max_retries}); the data is mostly '
        f'unreadable:\n{listing}')


def attach_skip_records(data: Any, records: List[Dict[str, Any]],
                        **meta) -> Any:
    """Store ``records`` (and ``meta``) as the sample's ``skipped_samples``."""
    samples = data.get('data_samples') if isinstance(data, dict) else None
    if samples is not None and hasattr(samples, 'set_metainfo'):
        samples.set_metainfo(dict(skipped_samples=records, **meta))
    elif isinstance(data, dict):
        data['skipped_samples'] = records
    return data
