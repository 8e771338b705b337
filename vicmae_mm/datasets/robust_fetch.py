# Copyright (c) vicmae_mm contributors. All rights reserved.
"""Fetch a sample, skipping bad files with bounded retries.

A file that cannot give a sample (missing, empty, corrupt, truncated,
undecodable) is logged, counted and replaced by another item of the same
dataset, up to ``max_retries`` times: mmengine ``BaseDataset``'s refetch
(``_rand_another``) extended to files that raise. Skips are recorded in the
sample's meta (``skipped_samples``) for :class:`DataSkipSummaryHook`;
exhausting the retries raises listing every failure. Errors that mean a bug
or a bad config are not caught.
"""
import logging
from contextlib import nullcontext
from typing import Any, Callable, Dict, List, Optional, Tuple

import cv2
from mmengine.dataset import BaseDataset
from mmengine.logging import print_log

from .sample_errors import SampleLoadError

# what a bad input file raises: our loaders' SampleLoadError (an OSError),
# OSError from file backends, mmcv's undecodable-image assertion
_MMCV_BAD_IMAGE = 'failed to load image'


def _is_bad_input(err: BaseException) -> bool:
    if isinstance(err, (SampleLoadError, OSError)):
        return True
    # OpenCV could not decode the file's bytes (e.g. a 0-byte image)
    if isinstance(err, cv2.error) and 'imdecode' in str(err):
        return True
    return isinstance(err,
                      AssertionError) and str(err).startswith(_MMCV_BAD_IMAGE)


def _path_of(dataset, index: int) -> str:
    try:
        info = dataset.get_data_info(index)
    except Exception:  # the path is only for messages
        return f'<index {index}>'
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
        dataset (BaseDataset): The dataset (``prepare_data``,
            ``get_data_info``, ``_rand_another``).
        index (int): The requested index.
        max_retries (int, optional): How many replacement items to try.
            Defaults to the dataset's ``max_refetch``.
        attempt_seed (callable, optional): ``attempt -> context manager``
            entered around each attempt (per-sample seeding); the
            replacement index is drawn inside it, so it is reproducible.
        source (str): Dataset name for messages.

    Returns:
        tuple: ``(data, records)``; each record is a dict with ``path``,
        ``reason``, ``index`` and ``source``.

    Raises:
        SampleLoadError: If ``max_retries + 1`` items in a row failed.
    """
    if max_retries is None:
        max_retries = dataset.max_refetch
    records: List[Dict[str, Any]] = []
    current = index
    for attempt in range(max_retries + 1):
        context = attempt_seed(attempt) if attempt_seed else nullcontext()
        with context:
            try:
                data = dataset.prepare_data(current)
                reason = 'the pipeline returned None'
            except Exception as err:
                if not _is_bad_input(err):
                    raise
                data, reason = None, str(err)
            if data is not None:
                return data, records
            record = dict(
                path=_path_of(dataset, current),
                reason=reason,
                index=int(current),
                source=source)
            records.append(record)
            print_log(
                f'skipped bad sample {record["path"]} ({source}): {reason}; '
                f'resampling (attempt {attempt + 1}/{max_retries + 1})',
                logger='current',
                level=logging.WARNING)
            current = int(dataset._rand_another())
    listing = '\n'.join(f'  {r["path"]}: {r["reason"]}' for r in records)
    raise SampleLoadError(
        f'{len(records)} consecutive samples of {source or "the dataset"} '
        f'failed to load (max_retries={max_retries}); the data is mostly '
        f'unreadable:\n{listing}')


def attach_skip_records(data: Any, records: List[Dict[str, Any]]) -> Any:
    """Store ``records`` in the packed sample's meta (``skipped_samples``),
    or under that key of a plain results dict."""
    samples = data.get('data_samples') if isinstance(data, dict) else None
    if samples is not None and hasattr(samples, 'set_metainfo'):
        samples.set_metainfo(dict(skipped_samples=records))
    elif isinstance(data, dict):
        data['skipped_samples'] = records
    return data
