# Copyright (c) vicmae_mm contributors. All rights reserved.
"""tools/analysis/benchmark_pretrain.py runs its variants on a real config
and reports consistent figures (no speed is asserted: speed figures live in
docs/benchmarks/pretraining_speed.md)."""
import importlib.util
import json
import os.path as osp

import pytest

from helpers import REPO_ROOT, TINY_PRETRAIN_CFG
from perf_helpers import build, tiny_model_cfg  # noqa: F401  (registers)
from flops import vicmae_step_flops


def _load_tool():
    path = osp.join(REPO_ROOT, 'tools', 'analysis', 'benchmark_pretrain.py')
    spec = importlib.util.spec_from_file_location('benchmark_pretrain', path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_benchmark_runs_all_variants(tmp_path, capsys):
    tool = _load_tool()
    out = str(tmp_path / 'bench.json')
    results = tool.main([
        TINY_PRETRAIN_CFG, '--batch', '8', '--steps', '1', '--repeats', '1',
        '--warmup', '0', '--peak-size', '128', '--reference', '--released',
        '--checkpoint-activations', '--memory', '--no-malloc-tuning', '--json',
        out, '--cfg-options', 'model.neck.type=ViCMAEPretrainDecoder'
    ])
    printed = capsys.readouterr().out
    assert 'ours / reference' in printed and 'GFLOP/s' in printed
    # what ran is reported: the CPU, the settings, the kernels chosen
    assert results['runtime']['cpu'] in printed
    assert results['runtime']['malloc_tuning'] is False
    assert results['kernel_choices'] and all(
        f'{k}: {v}' in printed for k, v in results['kernel_choices'].items())
    assert results['speedups']['ours / reference'] > 0
    variants = results['variants']
    assert set(variants) == {'ours', 'reference', 'released', 'ours-ckpt'}
    assert 'ours / released' in results['paired_speedups']
    # same batch and masks: every fp32 variant computes the same losses
    for name in ('reference', 'released', 'ours-ckpt'):
        for key, value in variants['ours']['losses'].items():
            assert variants[name]['losses'][key] == pytest.approx(
                value, rel=1e-5, abs=1e-6), (name, key)
    # FLOPs are the analytic count of the configured model
    model = build(tiny_model_cfg(enc_layers=2, dec_layers=1))
    assert results['flops']['total'] == vicmae_step_flops(model, 8)['total']
    for r in variants.values():
        assert r['pairs_per_s'] > 0 and r['gflops'] > 0
        assert set(r['step_s']) >= {
            'data', 'forward', 'backward', 'optimizer', 'total'
        }
    assert results['matmul_peak_gflops']['fp32']['best'] > 0
    # checkpointing stores fewer activations in the same run
    mem = results['memory']
    assert mem['ours-ckpt']['step_peak'] < mem['ours']['step_peak']
    assert mem['ours-ckpt']['state'] == mem['ours']['state']
    with open(out) as f:
        assert json.load(f)['variants'].keys() == variants.keys()


def test_benchmark_rejects_bad_arguments():
    tool = _load_tool()
    with pytest.raises(SystemExit):
        tool.parse_args([TINY_PRETRAIN_CFG, '--batch', '0'])
    with pytest.raises(SystemExit):
        tool.parse_args([TINY_PRETRAIN_CFG, '--compare-fp32'])
    with pytest.raises(FileNotFoundError, match='missing.py'):
        tool.main(['missing.py', '--no-malloc-tuning'])
