# Copyright (c) vicmae_mm contributors. All rights reserved.
"""Non-finite losses stop a run before a poisoned checkpoint is written;
checkpoint writes are atomic."""
import os
import os.path as osp

import pytest
import torch
from mmengine.config import Config
from mmengine.runner import Runner

import vicmae_mm  # noqa: F401
from helpers import TINY_PRETRAIN_CFG, write_images
from vicmae_mm.engine import AtomicLocalBackend, NonFiniteLossError
from vicmae_mm.models import ViCMAE


def test_nan_loss_stops_run_and_keeps_last_good_checkpoint(
        tmp_path, monkeypatch):
    write_images(str(tmp_path / 'images'), num=16)
    cfg = Config.fromfile(TINY_PRETRAIN_CFG)
    cfg.work_dir = str(tmp_path / 'work')
    cfg.train_dataloader.dataset.data_root = str(tmp_path / 'images')
    cfg.default_hooks.checkpoint.interval = 1
    cfg.train_cfg.max_iters = 5
    cfg.experiment_name = 'nan_loss'

    real_loss = ViCMAE.loss
    calls = {'n': 0}

    def loss_nan_at_third_iter(self, *args, **kwargs):
        losses = real_loss(self, *args, **kwargs)
        calls['n'] += 1
        if calls['n'] == 3:
            losses['loss_nce'] = losses['loss_nce'] * float('nan')
        return losses

    monkeypatch.setattr(ViCMAE, 'loss', loss_nan_at_third_iter)
    runner = Runner.from_cfg(cfg)
    with pytest.raises(NonFiniteLossError) as err:
        runner.train()
    msg = str(err.value)
    assert 'iteration 3' in msg and 'loss_nce=nan' in msg
    assert 'loss_rec=' in msg and 'iter_2.pth' in msg
    assert not osp.exists(osp.join(cfg.work_dir, 'iter_3.pth'))
    with open(osp.join(cfg.work_dir, 'last_checkpoint')) as f:
        assert f.read().strip().endswith('iter_2.pth')
    ckpt = torch.load(osp.join(cfg.work_dir, 'iter_2.pth'),
                      weights_only=True)
    assert all(torch.isfinite(v).all() for v in ckpt['state_dict'].values()
               if v.is_floating_point())


def test_atomic_write_failure_keeps_previous_file(tmp_path, monkeypatch):
    backend = AtomicLocalBackend()
    target = str(tmp_path / 'epoch_1.pth')
    backend.put(b'good checkpoint', target)

    def crash(fd):
        raise OSError('disk died mid-write')

    monkeypatch.setattr(os, 'fsync', crash)
    with pytest.raises(OSError, match='mid-write'):
        backend.put(b'partial', target)
    with open(target, 'rb') as f:
        assert f.read() == b'good checkpoint'
    # no temporary files left behind
    assert os.listdir(tmp_path) == ['epoch_1.pth']


def test_atomic_backend_used_by_checkpoint_hook(tmp_path):
    from mmengine.fileio import get_file_backend
    backend = get_file_backend(
        str(tmp_path), backend_args=dict(backend='atomic_local'))
    assert isinstance(backend, AtomicLocalBackend)
    backend.put_text('iter_2.pth', str(tmp_path / 'last_checkpoint'))
    assert (tmp_path / 'last_checkpoint').read_text() == 'iter_2.pth'
