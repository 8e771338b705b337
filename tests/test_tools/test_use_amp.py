# Copyright (c) vicmae_mm contributors. All rights reserved.
"""tools/train.py's AMP resolution on a machine without GPU."""
import pytest
import torch
from mmengine.config import Config

from runner_cli import use_amp


@pytest.mark.parametrize('scope, expected', [
    ('mmpretrain', 'CPUAmpOptimWrapper'),
    ('mmdet', 'OptimWrapper'),
    ('mmaction', 'OptimWrapper'),
])
def test_amp_recipe_on_cpu(scope, expected):
    if torch.cuda.is_available():
        expected = 'AmpOptimWrapper'
    cfg = Config(dict(default_scope=scope, optim_wrapper=dict(
        type='AmpOptimWrapper', loss_scale='dynamic',
        optimizer=dict(type='AdamW', lr=1e-4))))
    use_amp(cfg, enable=False)
    assert cfg.optim_wrapper.type == expected
    if expected != 'AmpOptimWrapper':
        assert 'loss_scale' not in cfg.optim_wrapper


def test_plain_fp32_config_stays_fp32_without_amp_flag():
    cfg = Config(dict(default_scope='mmpretrain', optim_wrapper=dict(
        type='OptimWrapper', optimizer=dict(type='AdamW', lr=1e-4))))
    use_amp(cfg, enable=False)
    assert cfg.optim_wrapper.type == 'OptimWrapper'


@pytest.mark.parametrize('bf16_ok, dtype, loss_scale', [
    (True, 'bfloat16', 1.0),        # Ampere or newer: bf16, no rescaling
    (False, 'float16', 'dynamic'),  # older GPUs: fp16 with loss scaling
])
def test_gpu_amp_picks_bf16_where_supported(monkeypatch, bf16_ok, dtype,
                                            loss_scale):
    monkeypatch.setattr(torch.cuda, 'is_available', lambda: True)
    monkeypatch.setattr(torch.cuda, 'is_bf16_supported', lambda: bf16_ok)
    cfg = Config(dict(default_scope='mmpretrain', optim_wrapper=dict(
        type='OptimWrapper', optimizer=dict(type='AdamW', lr=1e-4))))
    use_amp(cfg, enable=True)
    assert cfg.optim_wrapper.type == 'AmpOptimWrapper'
    assert cfg.optim_wrapper.dtype == dtype
    assert cfg.optim_wrapper.loss_scale == loss_scale


def test_gpu_amp_keeps_the_configured_dtype(monkeypatch):
    monkeypatch.setattr(torch.cuda, 'is_available', lambda: True)
    monkeypatch.setattr(torch.cuda, 'is_bf16_supported', lambda: True)
    cfg = Config(dict(default_scope='mmpretrain', optim_wrapper=dict(
        type='AmpOptimWrapper', dtype='float16', loss_scale='dynamic',
        optimizer=dict(type='AdamW', lr=1e-4))))
    use_amp(cfg, enable=False)
    assert (cfg.optim_wrapper.dtype, cfg.optim_wrapper.loss_scale) == \
        ('float16', 'dynamic')
