# Copyright (c) vicmae_mm contributors. All rights reserved.
"""CPU kernels are chosen by measurement once per shape class, can be
forced, and fall back cleanly where oneDNN is missing."""
import pytest
import torch

from perf_helpers import (assert_same, build, loss_and_grads, pair_and_noise,
                          tiny_model_cfg)
from vicmae_mm.models.backbones.fast_vit_block import fast_linear
from vicmae_mm.models.utils import cpu_kernels
from cpu_runtime import configure_cpu_runtime


@pytest.fixture(autouse=True)
def _fresh_choices(monkeypatch):
    for var in cpu_kernels.ENV_VARS.values():
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv(cpu_kernels.CACHE_ENV, '')  # in-process choices only
    cpu_kernels.reset_kernel_choices()
    yield
    cpu_kernels.reset_kernel_choices()


def _record_logs(monkeypatch):
    logs = []
    monkeypatch.setattr(cpu_kernels, 'print_log',
                        lambda msg, **kw: logs.append(msg))
    return logs


@pytest.mark.parametrize(
    'medians, expected',
    [
        (dict(blas=1.0, onednn=0.5), 'onednn'),  # clearly faster: taken
        (dict(blas=1.0, onednn=0.97), 'blas'),  # near-tie: the default stays
        (dict(blas=0.5, onednn=1.0), 'blas'),
    ])
def test_choice_is_the_measured_fastest_cached_and_logged_once(
        medians, expected, monkeypatch):
    logs = _record_logs(monkeypatch)
    timed, built = [], []
    monkeypatch.setattr(cpu_kernels, '_time_interleaved',
                        lambda runs: timed.append(sorted(runs)) or medians)

    def runs():
        built.append(1)
        return dict(blas=lambda: None, onednn=lambda: None)

    for _ in range(3):
        assert cpu_kernels.select_kernel('linear', ('float32', 8),
                                         runs) == expected
    assert built == [1] and timed == [['blas', 'onednn']]
    assert len(logs) == 1 and expected in logs[0]
    # another shape class is measured on its own
    cpu_kernels.select_kernel('linear', ('float32', 16), runs)
    assert len(built) == 2 and len(cpu_kernels.kernel_choices()) == 2


def test_real_measurement_keeps_the_global_random_stream(monkeypatch):
    """The probes time real kernels on their own generator: training's
    random stream does not depend on when a choice is made."""
    logs = _record_logs(monkeypatch)
    torch.manual_seed(0)
    expected = torch.rand(3)
    torch.manual_seed(0)
    x = torch.randn(4, 5, 8, generator=torch.Generator().manual_seed(1))
    fast_linear(x, torch.ones(6, 8))
    assert torch.equal(torch.rand(3), expected)
    (choice, ) = cpu_kernels.kernel_choices().values()
    assert choice in cpu_kernels.CANDIDATES['linear']
    assert len(logs) == 1 and 'selection took' in logs[0]


def test_forced_choice_skips_measurement(monkeypatch):
    monkeypatch.setenv('VICMAE_CPU_ATTENTION', 'matmul')

    def runs():
        raise AssertionError('a forced choice must not measure')

    assert cpu_kernels.select_kernel('attention', ('float32', 1),
                                     runs) == 'matmul'
    monkeypatch.setenv('VICMAE_CPU_LINEAR', 'mkl')
    with pytest.raises(ValueError, match='VICMAE_CPU_LINEAR'):
        cpu_kernels.select_kernel('linear', ('float32', 1), runs)


def test_missing_onednn_falls_back_to_blas(monkeypatch):
    """Without oneDNN only BLAS is a linear candidate (nothing is timed,
    oneDNN is never called), forcing oneDNN warns and uses BLAS, and the
    model still computes what mmpretrain's blocks compute."""
    logs = _record_logs(monkeypatch)
    with monkeypatch.context() as m:
        m.setattr(torch.backends.mkldnn, 'enabled', False)
        assert not cpu_kernels.onednn_available()  # switched off counts
    assert torch.backends.mkldnn.enabled
    monkeypatch.setattr(cpu_kernels, 'onednn_available', lambda: False)

    def no_onednn(*args, **kwargs):
        raise AssertionError('oneDNN called although unavailable')

    from vicmae_mm.models.backbones import fast_vit_block
    monkeypatch.setitem(fast_vit_block._LINEARS, 'onednn', no_onednn)
    fast = build(tiny_model_cfg())
    stock = build(tiny_model_cfg(decoder='MAEPretrainDecoder',
                                 bb_fast_path=False),
                  state_dict=fast.state_dict())
    views, noise = pair_and_noise()
    assert_same(
        loss_and_grads(lambda v, n: fast.loss(v, mask_noise=n), fast, views,
                       noise),
        loss_and_grads(lambda v, n: stock.loss(v, mask_noise=n), stock, views,
                       noise))
    linear = {
        k: v
        for k, v in cpu_kernels.kernel_choices().items()
        if k.startswith('linear')
    }
    assert linear and set(linear.values()) == {'blas'}
    assert any('only candidate' in m for m in logs)
    cpu_kernels.reset_kernel_choices()
    monkeypatch.setenv('VICMAE_CPU_LINEAR', 'onednn')
    x = torch.randn(3, 8)
    assert torch.allclose(fast_linear(x, torch.ones(2, 8)),
                          x.sum(1, keepdim=True).expand(3, 2))
    assert any('not available' in m for m in logs)


def test_configure_cpu_runtime_reports_what_it_applied():
    before = torch.get_num_threads()
    try:
        applied = configure_cpu_runtime(threads=1, malloc_tuning=False)
        assert torch.get_num_threads() == 1
        assert applied['threads'] == 1 and applied['malloc_tuning'] is False
        assert applied['cpu'] and 'family' in applied['cpu']
    finally:
        torch.set_num_threads(before)
    with pytest.raises(ValueError, match='threads'):
        configure_cpu_runtime(threads=0)


def test_first_choice_inside_a_checkpointed_block(monkeypatch):
    """Choices made during a checkpointed forward (probes run outside its
    saved-tensor hooks) and under bf16 autocast work and are reused in
    the recomputation."""
    _record_logs(monkeypatch)
    plain = build(tiny_model_cfg())
    ckpt = build(tiny_model_cfg(bb_with_cp=True,
                                neck_with_cp=True),
                 state_dict=plain.state_dict())
    views, noise = pair_and_noise()
    first = loss_and_grads(lambda v, n: ckpt.loss(v, mask_noise=n), ckpt,
                           views, noise)
    made = cpu_kernels.kernel_choices()
    assert {k.split()[0] for k in made} == {'linear', 'attention'}
    assert_same(first,
                loss_and_grads(lambda v, n: plain.loss(v, mask_noise=n), plain,
                               views, noise),
                rtol=1e-6,
                atol=1e-7)
    with torch.autocast('cpu', dtype=torch.bfloat16):
        losses = ckpt.loss(views, mask_noise=noise)
    (losses['loss_rec'] + losses['loss_nce']).backward()
    bf16 = {
        k: v
        for k, v in cpu_kernels.kernel_choices().items() if k not in made
    }
    assert bf16 and all('bfloat16' in k for k in bf16)


def test_choices_are_remembered_across_processes_of_one_machine(
        monkeypatch, tmp_path):
    """A later process (emulated by forgetting the in-process choices)
    reuses what was measured, so a resumed run computes with the same
    kernels; another PyTorch version measures again; a damaged cache file
    is measured over."""
    cache = tmp_path / 'cpu_kernels.json'
    monkeypatch.setenv(cpu_kernels.CACHE_ENV, str(cache))
    logs = _record_logs(monkeypatch)
    monkeypatch.setattr(cpu_kernels, '_time_interleaved',
                        lambda runs: dict(blas=1.0, onednn=0.5))
    runs = lambda: dict(blas=lambda: None, onednn=lambda: None)  # noqa
    assert cpu_kernels.select_kernel('linear', ('float32', 8), runs) == \
        'onednn'
    assert cache.is_file()
    cpu_kernels.reset_kernel_choices()

    def must_not_measure():
        raise AssertionError('a remembered choice must not be measured')

    assert cpu_kernels.select_kernel('linear', ('float32', 8),
                                     must_not_measure) == 'onednn'
    assert 'measured earlier on this machine' in logs[-1]
    cpu_kernels.reset_kernel_choices()
    monkeypatch.setattr(torch, '__version__', '0.0.0-other')
    monkeypatch.setattr(cpu_kernels, '_time_interleaved',
                        lambda runs: dict(blas=0.5, onednn=1.0))
    assert cpu_kernels.select_kernel('linear', ('float32', 8), runs) == \
        'blas'
    cpu_kernels.reset_kernel_choices()
    cache.write_text('{not json')
    assert cpu_kernels.select_kernel('linear', ('float32', 8), runs) == \
        'blas'
    assert 'selection took' in logs[-1]
