# Copyright (c) vicmae_mm contributors. All rights reserved.
"""Checkpoints load weights-only; a pickle that runs code is refused."""
import os
import os.path as osp

import pytest
import torch

import vicmae_mm  # noqa: F401
from vicmae_mm.utils import UnsafeCheckpointError, safe_torch_load
from vicmae_mm.utils.checkpoint import TRUST_ENV


class _CreatesFile:
    """Unpickling this calls ``open(path, 'w')``: code execution."""

    def __init__(self, path):
        self.path = path

    def __reduce__(self):
        return (open, (self.path, 'w'))


@pytest.fixture
def evil_ckpt(tmp_path):
    marker = tmp_path / 'pwned.txt'
    path = tmp_path / 'evil.pth'
    torch.save({'state_dict': {'w': torch.ones(1)},
                'payload': _CreatesFile(str(marker))}, str(path))
    assert not marker.exists()
    return str(path), marker


def test_safe_load_refuses_and_code_never_runs(evil_ckpt):
    path, marker = evil_ckpt
    with pytest.raises(UnsafeCheckpointError, match='evil.pth'):
        safe_torch_load(path)
    assert not marker.exists()


def test_mmengine_loader_refuses(evil_ckpt):
    from mmengine.runner.checkpoint import _load_checkpoint, load_checkpoint
    path, marker = evil_ckpt
    with pytest.raises(UnsafeCheckpointError):
        _load_checkpoint(path)
    with pytest.raises(UnsafeCheckpointError):
        load_checkpoint(torch.nn.Linear(1, 1), path)
    assert not marker.exists()


def test_trusted_opt_in(evil_ckpt, monkeypatch):
    path, marker = evil_ckpt
    monkeypatch.setenv(TRUST_ENV, osp.dirname(path))
    with pytest.warns(UserWarning, match='trusted'):
        safe_torch_load(path)
    assert marker.exists()


def test_numpy_values_load_without_trust(tmp_path):
    """NumPy arrays/scalars (e.g. in a foreign checkpoint's meta) are on the
    allowlist."""
    import numpy as np
    path = str(tmp_path / 'numpy_meta.pth')
    torch.save({'state_dict': {'w': torch.ones(2)},
                'meta': {'np': np.float64(2.0), 'arr': np.arange(3)}}, path)
    ckpt = safe_torch_load(path)
    assert ckpt['meta']['np'] == 2.0
    assert list(ckpt['meta']['arr']) == [0, 1, 2]


def test_plain_mmengine_message_hub_needs_opt_in(tmp_path, monkeypatch):
    """mmengine's HistoryBuffer (which pickles `getattr`) is refused, named,
    and loadable only after an explicit opt-in."""
    from mmengine.logging import HistoryBuffer
    buf = HistoryBuffer()
    buf.update(1.5)
    path = str(tmp_path / 'mmengine_style.pth')
    torch.save({'message_hub': {'log_scalars': {'train/loss': buf}}}, path)
    with pytest.raises(UnsafeCheckpointError, match='HistoryBuffer'):
        safe_torch_load(path)
    monkeypatch.setenv(TRUST_ENV, path)
    with pytest.warns(UserWarning, match='trusted'):
        ckpt = safe_torch_load(path)
    assert ckpt['message_hub']['log_scalars']['train/loss'].current() == 1.5


def test_missing_file_is_named(tmp_path):
    with pytest.raises(FileNotFoundError, match='nope.pth'):
        safe_torch_load(str(tmp_path / 'nope.pth'))
