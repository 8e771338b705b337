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


def _five_iter_cfg(tmp_path):
    """The tiny pretraining run, 5 iterations, a checkpoint after each."""
    write_images(str(tmp_path / 'images'), num=16)
    cfg = Config.fromfile(TINY_PRETRAIN_CFG)
    cfg.work_dir = str(tmp_path / 'work')
    cfg.train_dataloader.dataset.data_root = str(tmp_path / 'images')
    cfg.default_hooks.checkpoint.interval = 1
    cfg.default_hooks.checkpoint.max_keep_ckpts = 5
    cfg.train_cfg.max_iters = 5
    return cfg


def _nan_at_third_iter(monkeypatch, key):
    """Make ``ViCMAE.loss`` return NaN for ``key`` at its third call."""
    real_loss = ViCMAE.loss
    calls = {'n': 0}

    def loss_nan_at_third_iter(self, *args, **kwargs):
        losses = real_loss(self, *args, **kwargs)
        calls['n'] += 1
        if calls['n'] == 3:
            losses[key] = losses[key] * float('nan')
        return losses

    monkeypatch.setattr(ViCMAE, 'loss', loss_nan_at_third_iter)


def test_nan_loss_stops_run_and_keeps_last_good_checkpoint(
        tmp_path, monkeypatch):
    cfg = _five_iter_cfg(tmp_path)
    _nan_at_third_iter(monkeypatch, 'loss_nce')
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


def test_atomic_write_cleans_stale_tmp_and_keeps_umask_mode(tmp_path):
    stale = tmp_path / '.iter_2.pth.abc123.tmp'
    stale.write_bytes(b'half a checkpoint from a killed write')
    backend = AtomicLocalBackend()
    backend.put(b'data', str(tmp_path / 'iter_2.pth'))
    assert not stale.exists()
    umask = os.umask(0)
    os.umask(umask)
    mode = os.stat(tmp_path / 'iter_2.pth').st_mode & 0o777
    assert mode == 0o666 & ~umask


def test_resume_falls_back_when_last_checkpoint_is_broken(tmp_path):
    from runner_cli import find_resume_checkpoint
    work = tmp_path
    assert find_resume_checkpoint(str(work)) is None
    for it in (2, 4):
        torch.save({'meta': {'iter': it}}, str(work / f'iter_{it}.pth'))
    (work / 'iter_6.pth').write_bytes(b'PK\x03\x04 truncated')
    last = work / 'last_checkpoint'
    last.write_text(str(work / 'iter_4.pth'))
    assert find_resume_checkpoint(str(work)) == str(work / 'iter_4.pth')
    for broken in ('', str(work / 'iter_6.pth'), str(work / 'gone.pth')):
        last.write_text(broken)
        # newest complete checkpoint, skipping the truncated iter_6
        assert find_resume_checkpoint(str(work)) == str(work / 'iter_4.pth')


def test_cpu_amp_skips_nonfinite_update_and_goes_on(tmp_path, monkeypatch):
    """Under --amp on CPU a NaN loss skips that update (weights unchanged),
    is counted, and training goes on, like AmpOptimWrapper on GPU."""
    from runner_cli import use_amp
    cfg = _five_iter_cfg(tmp_path)
    use_amp(cfg, True)
    assert cfg.optim_wrapper.type == 'CPUAmpOptimWrapper'
    _nan_at_third_iter(monkeypatch, 'loss_rec')
    runner = Runner.from_cfg(cfg)
    runner.train()
    assert runner.iter == 5
    assert runner.optim_wrapper.skipped_updates == 1
    assert runner.message_hub.get_scalar(
        'train/nonfinite_skipped').current() == 1

    def params(name):
        state = torch.load(
            osp.join(cfg.work_dir, name), weights_only=True)['state_dict']
        return {k: state[k] for k, _ in runner.model.named_parameters()}

    p2, p3, p4 = params('iter_2.pth'), params('iter_3.pth'), params(
        'iter_4.pth')
    assert all(torch.equal(p2[k], p3[k]) for k in p2)  # iteration 3 skipped
    assert not all(torch.equal(p3[k], p4[k]) for k in p3)  # 4 updated
    assert all(torch.isfinite(v).all() for v in p4.values())


def test_cpu_amp_drops_an_accumulation_window_with_a_nonfinite_loss():
    from vicmae_mm.engine.optimizers import CPUAmpOptimWrapper
    torch.manual_seed(0)
    layer = torch.nn.Linear(4, 2)
    wrapper = CPUAmpOptimWrapper(
        optimizer=torch.optim.SGD(layer.parameters(), lr=0.1),
        accumulative_counts=2)
    wrapper.initialize_count_status(layer, 0, 4)
    before = [p.detach().clone() for p in layer.parameters()]
    x = torch.randn(3, 4)
    # window 1: a NaN micro-batch then a good one -> no step, grads cleared
    wrapper.update_params(layer(x).sum() * float('nan'))
    wrapper.update_params(layer(x).sum())
    assert wrapper.skipped_updates == 1
    assert all(torch.equal(a, b) for a, b in zip(before, layer.parameters()))
    assert all(p.grad is None or not p.grad.any() for p in layer.parameters())
    # window 2: two good micro-batches -> one real step
    wrapper.update_params(layer(x).sum())
    wrapper.update_params(layer(x).sum())
    assert wrapper.skipped_updates == 1
    assert not all(
        torch.equal(a, b) for a, b in zip(before, layer.parameters()))
    # opting out applies the NaN like a plain OptimWrapper
    plain = CPUAmpOptimWrapper(
        optimizer=torch.optim.SGD(layer.parameters(), lr=0.1),
        skip_nonfinite=False)
    plain.update_params(layer(x).sum() * float('nan'))
    assert not all(torch.isfinite(p).all() for p in layer.parameters())
