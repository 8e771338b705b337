# Copyright (c) vicmae_mm contributors. All rights reserved.
"""Weights-only checkpoint loading and saving (``docs/reliability.md``)."""
import os
import os.path as osp
import pickle
import warnings
from typing import Any, Dict, List, Optional, Set

import numpy as np
import torch

TRUST_ENV = 'VICMAE_TRUSTED_CHECKPOINTS'
_TRUSTED: Set[str] = set()
_HB_TAG = '__vicmae_history_buffer__'


class UnsafeCheckpointError(pickle.UnpicklingError):
    """Raised when a checkpoint needs globals outside the allowlist."""


def safe_globals() -> List[Any]:
    """The allowlist: NumPy callables/types that rebuild arrays, scalars."""
    found = [np.ndarray, np.dtype]
    for modname in ('numpy.core.multiarray', 'numpy._core.multiarray'):
        try:
            mod = __import__(modname, fromlist=['_reconstruct'])
        except ImportError:
            continue
        found += [mod._reconstruct, mod.scalar]
    # dtype classes (numpy >= 1.25 pickles dtypes by their class)
    dtypes = getattr(np, 'dtypes', None)
    if dtypes is not None:
        found += [
            getattr(dtypes, n) for n in dir(dtypes) if n.endswith('DType')
        ]
    return found


def trust_checkpoint(path: str) -> None:
    """Opt in to fully unpickling ``path`` (a file or a folder)."""
    _TRUSTED.add(osp.realpath(osp.expanduser(path)))


def _is_trusted(filename: str) -> bool:
    real = osp.realpath(osp.expanduser(filename))
    entries = set(_TRUSTED)
    entries.update(
        osp.realpath(osp.expanduser(p))
        for p in os.environ.get(TRUST_ENV, '').split(os.pathsep) if p)
    return any(real == e or real.startswith(e.rstrip(os.sep) + os.sep)
               for e in entries)


def _unsupported_global(err: Exception) -> str:
    """The line of torch's message that names the refused global."""
    for line in str(err).splitlines():
        if 'Unsupported global' in line or 'Unsupported operand' in line:
            return line.strip().split('. Please use')[0]
    return str(err).strip().splitlines()[-1] if str(err).strip() else ''


def safe_torch_load(filename: str, map_location: Any = None) -> Any:
    """``torch.load`` with ``weights_only=True`` and :func:`safe_globals`.

    Raises :class:`UnsafeCheckpointError` unless the file is trusted.
    """
    filename = osp.expanduser(filename)
    if not osp.isfile(filename):
        raise FileNotFoundError(f'checkpoint {filename} can not be found.')
    try:
        with torch.serialization.safe_globals(safe_globals()):
            return torch.load(
                filename, map_location=map_location, weights_only=True)
    except pickle.UnpicklingError as err:
        if not _is_trusted(filename):
            raise UnsafeCheckpointError(
                f'Refusing to load checkpoint {filename}: it needs Python '
                'objects outside the weights-only allowlist, and unpickling '
                'them could execute code.\n'
                f'{_unsupported_global(err)}\n'
                'If, and only if, you trust where this file comes from, '
                f'opt in with {TRUST_ENV}={filename} (or --trust-checkpoint '
                'in vicmae_mm tools); then, to share it safely, strip it to '
                'weights once with '
                'tools/model_converters/extract_backbone.py.') from None
    # reached only for a file the user trusted explicitly (trust_checkpoint,
    # --trust-checkpoint or VICMAE_TRUSTED_CHECKPOINTS)
    warnings.warn(f'Loading trusted checkpoint {filename} with full '
                  'unpickling (weights_only=False).')
    return torch.load(filename, map_location=map_location, weights_only=False)


# mmengine ``CheckpointLoader`` scheme for local files
safe_load_checkpoint = safe_torch_load


def safe_load_url(url: str,
                  model_dir: Optional[str] = None,
                  map_location: Any = None,
                  progress: bool = True,
                  **kwargs) -> Any:
    """mmengine's ``load_url``: download to the hub cache, load safely.

    torch's ``load_state_dict_from_url`` defaults to ``weights_only=False``.
    """
    from urllib.parse import urlparse

    from torch.hub import download_url_to_file, get_dir
    model_dir = model_dir or osp.join(get_dir(), 'checkpoints')
    os.makedirs(model_dir, exist_ok=True)
    cached = osp.join(model_dir, osp.basename(urlparse(url).path))
    if not osp.exists(cached):
        download_url_to_file(url, cached, None, progress=progress)
    return safe_torch_load(cached, map_location)


def register_safe_local_loader() -> None:
    """Make mmengine load every checkpoint through this module."""
    from mmengine.runner import checkpoint as mmengine_checkpoint
    mmengine_checkpoint.CheckpointLoader.register_scheme(
        prefixes='', loader=safe_load_checkpoint, force=True)
    # the remote schemes download, then call this module-level name
    mmengine_checkpoint.load_url = safe_load_url


def _to_plain(obj: Any) -> Any:
    """Recursively turn NumPy values into Python numbers/lists."""
    if isinstance(obj, dict):
        return type(obj)((k, _to_plain(v)) for k, v in obj.items())
    if isinstance(obj, (list, tuple)):
        return type(obj)(_to_plain(v) for v in obj)
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, np.generic):
        return obj.item()
    return obj


def plain_message_hub_state(state: Dict[str, Any]) -> Dict[str, Any]:
    """Message-hub state with ``HistoryBuffer``s as tagged float lists."""
    from mmengine.logging.history_buffer import HistoryBuffer
    out = dict(state)
    scalars = {}
    for key, buf in state.get('log_scalars', {}).items():
        if isinstance(buf, HistoryBuffer):
            logs, counts = buf.data
            scalars[key] = {
                _HB_TAG: True,
                'log_history': [float(v) for v in logs],
                'count_history': [float(v) for v in counts],
                'max_length': int(buf.max_length),
            }
        else:
            scalars[key] = _to_plain(buf)
    out['log_scalars'] = scalars
    for key in ('runtime_info', 'resumed_keys'):
        if key in out:
            out[key] = _to_plain(out[key])
    return out


def restore_message_hub_state(state: Dict[str, Any]) -> Dict[str, Any]:
    """Inverse of :func:`plain_message_hub_state` (no-op on plain states)."""
    from mmengine.logging.history_buffer import HistoryBuffer
    scalars = state.get('log_scalars')
    if not isinstance(scalars, dict):
        return state
    out = dict(state, log_scalars=dict(scalars))
    for key, value in scalars.items():
        if isinstance(value, dict) and value.get(_HB_TAG):
            out['log_scalars'][key] = HistoryBuffer(
                log_history=value['log_history'],
                count_history=value['count_history'],
                max_length=value['max_length'])
    return out


def plain_checkpoint(checkpoint: Dict[str, Any]) -> None:
    """Make a checkpoint's hub and meta weights-only-loadable, in place."""
    if 'message_hub' in checkpoint:
        checkpoint['message_hub'] = plain_message_hub_state(
            checkpoint['message_hub'])
    if 'meta' in checkpoint:
        checkpoint['meta'] = _to_plain(checkpoint['meta'])
