# Copyright (c) vicmae_mm contributors. All rights reserved.
"""bf16 autocast on CPU: CPUAmpOptimWrapper, its selection by --amp, and a
real Runner trained with it."""
import json
import os.path as osp
import subprocess
import sys

import pytest
import torch
from mmengine.config import Config

from helpers import REPO_ROOT, TINY_PRETRAIN_CFG, write_images
from perf_helpers import build, pair_and_noise, tiny_model_cfg
from vicmae_mm.engine.optimizers import CPUAmpOptimWrapper
from runner_cli import use_amp


def test_wrapper_autocasts_and_stays_within_bf16_noise():
    model = build(tiny_model_cfg())
    views, noise = pair_and_noise(b=8)
    fp32 = {
        k: v.detach()
        for k, v in model.loss(views, mask_noise=noise).items()
    }
    wrapper = CPUAmpOptimWrapper(
        optimizer=torch.optim.AdamW(model.parameters(), lr=1e-3))
    seen = []
    handle = model.projector.fc0.register_forward_hook(
        lambda m, i, out: seen.append(out.dtype))
    before = {n: p.detach().clone() for n, p in model.named_parameters()}
    with wrapper.optim_context(model):
        amp = model.loss(views, mask_noise=noise)
    handle.remove()
    assert seen == [torch.bfloat16]
    for key in ('loss_rec', 'loss_nce'):
        rel = abs(amp[key].item() - fp32[key].item()) / fp32[key].item()
        # bf16 keeps 8 mantissa bits (eps 2**-8 ~ 0.4%)
        assert rel < 2e-2, (key, amp[key].item(), fp32[key].item())
        assert amp[key].item() != fp32[key].item()  # it did run in bf16
    wrapper.update_params(amp['loss_rec'] + amp['loss_nce'])
    for name, param in model.named_parameters():
        assert param.dtype == torch.float32, name
        assert torch.isfinite(param).all(), name
    moved = [
        n for n, p in model.named_parameters()
        if p.requires_grad and not torch.equal(p, before[n])
    ]
    assert len(moved) > 0.9 * sum(p.requires_grad for p in model.parameters())


@pytest.mark.parametrize('kind, extra', [
    ('OptimWrapper', {}),
    ('AmpOptimWrapper', dict(loss_scale='dynamic', dtype='bfloat16')),
])
def test_amp_flag_picks_cpu_wrapper(kind, extra):
    if torch.cuda.is_available():
        pytest.skip('the CPU mapping applies on machines without a GPU')
    cfg = Config(
        dict(
            optim_wrapper=dict(
                type=kind, optimizer=dict(type='AdamW', lr=1e-3), **extra)))
    use_amp(cfg, True)
    assert cfg.optim_wrapper.type == 'CPUAmpOptimWrapper'
    assert 'loss_scale' not in cfg.optim_wrapper
    assert 'dtype' not in cfg.optim_wrapper


def test_bad_dtype():
    with pytest.raises(ValueError, match='dtype'):
        CPUAmpOptimWrapper(
            optimizer=torch.optim.SGD([torch.nn.Parameter(torch.ones(1))],
                                      lr=0.1),
            dtype='int8')


def test_train_py_amp_trains_on_cpu(tmp_path):
    data = str(tmp_path / 'images')
    write_images(data, num=8)
    work = str(tmp_path / 'work')
    proc = subprocess.run([
        sys.executable,
        osp.join(REPO_ROOT, 'tools', 'train.py'), TINY_PRETRAIN_CFG, '--amp',
        '--work-dir', work, '--cfg-options',
        f'train_dataloader.dataset.data_root={data}', 'train_cfg.max_iters=2'
    ],
                          cwd=REPO_ROOT,
                          capture_output=True,
                          text=True)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out[-3000:]
    assert 'CPUAmpOptimWrapper' in out
    rows = []
    for path in __import__('glob').glob(
            osp.join(work, '*', 'vis_data', 'scalars.json')):
        with open(path) as f:
            rows += [json.loads(line) for line in f if line.strip()]
    assert [r['iter'] for r in rows] == [1, 2]
    assert all(torch.isfinite(torch.tensor(r['loss'])) for r in rows)
