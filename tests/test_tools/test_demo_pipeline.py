# Copyright (c) vicmae_mm contributors. All rights reserved.
"""The demo of `make demo` (tools/demo/run_demo.py), end to end on a micro
budget: real data generation, real pretraining Runners (ViC-MAE and
MAE-only), real mmpretrain / mmaction2 / mmdet Runners from both
checkpoints and from random initialisation, summary and figures."""
import json
import math
import os
import os.path as osp
import subprocess
import sys

import cv2
import pytest

from helpers import REPO_ROOT

DEMO = osp.join(REPO_ROOT, 'tools', 'demo')
sys.path.insert(0, DEMO)

import demo_stages  # noqa: E402
from demo_stages import (COLUMNS, INITS, QUICK_BUDGET, TASKS,  # noqa: E402
                         build_run_config, rebase_data_paths)

METRICS = ('linear_top1', 'finetune_top1', 'video_top1', 'box_ap', 'mask_ap')


def run_demo(*args, timeout=600):
    return subprocess.run(
        [sys.executable,
         osp.join(DEMO, 'run_demo.py'), *args],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=timeout)


@pytest.fixture(scope='module')
def quick_demo(tmp_path_factory):
    work = str(tmp_path_factory.mktemp('demo'))
    proc = run_demo('--work-dir', work, '--quick', '--silent')
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return work, proc.stdout


def test_quick_demo_writes_summary_with_every_row(quick_demo):
    work, stdout = quick_demo
    summary = json.load(open(osp.join(work, 'summary.json')))
    rows = {row['init']: row for row in summary['rows']}
    assert list(rows) == ['vicmae', 'mae', 'random']
    for init, row in rows.items():
        for key in METRICS:
            value = row[key]
            assert isinstance(value, float) and math.isfinite(value), \
                (init, key, value)
            assert 0.0 <= value <= 100.0, (init, key, value)
    # pretraining figures: kNN monitor and time for both checkpoints only
    for init in ('vicmae', 'mae'):
        assert 0.0 <= rows[init]['knn_top1'] <= 100.0
        assert rows[init]['pretrain_time_s'] > 0
    assert rows['random']['knn_top1'] is None
    assert summary['budget'] == 'quick'
    assert summary['total_time_s'] > 0
    assert set(summary['stage_times_s']) == {
        'data', 'pretrain_vicmae', 'pretrain_mae', 'mmpretrain', 'mmaction',
        'mmdet'
    }

    # every run trained from the right initialisation, in its own work dir
    runs = summary['runs']
    assert set(runs['pretrain']) == {'vicmae', 'mae'}
    for task in ('linear_probe', 'finetune', 'video', 'detection'):
        assert set(runs[task]) == set(INITS)
        for init, record in runs[task].items():
            assert record['work_dir'] == osp.join(work, f'{task}_{init}')
    vicmae_ckpt = runs['pretrain']['vicmae']['checkpoint']
    mae_ckpt = runs['pretrain']['mae']['checkpoint']
    assert vicmae_ckpt != mae_ckpt
    for ckpt in (vicmae_ckpt, mae_ckpt):
        assert osp.isfile(ckpt)

    # the markdown table, printed at the end and written to summary.md
    md = open(osp.join(work, 'summary.md'), encoding='utf-8').read()
    for text in (md, stdout):
        for header in COLUMNS.values():
            assert header in text
        for name in INITS.values():
            assert f'| {name} |' in text
    table = [line for line in md.splitlines() if line.startswith('| ')]
    # header, separator, one row per initialisation
    assert len(table) == 2 + len(INITS)
    assert set(table[1].replace('|', '').split()) <= {'---', '---:'}


def test_quick_demo_copies_reconstruction_figures(quick_demo):
    work, _ = quick_demo
    figures = osp.join(work, 'figures')
    expected = {
        f'{init}_reconstruction_{kind}.png'
        for init in ('vicmae', 'mae') for kind in ('image', 'video')
    }
    assert set(os.listdir(figures)) == expected
    for name in expected:
        grid = cv2.imread(osp.join(figures, name))
        assert grid is not None, name
        # three rows (original, masked, reconstruction) of >= 96 px panels
        assert grid.shape[0] >= 3 * 96 and grid.shape[1] > 96, grid.shape
    md = open(osp.join(work, 'summary.md'), encoding='utf-8').read()
    for name in expected:
        assert f'(figures/{name})' in md


def test_demo_logs_each_stage_and_the_pretraining_progress(quick_demo):
    work, _ = quick_demo
    logs = osp.join(work, 'logs')
    assert sorted(os.listdir(logs)) == sorted(
        f'{s}.log' for s in demo_stages.STAGES)
    pretrain_log = open(osp.join(logs, 'pretrain_vicmae.log')).read()
    assert 'Iter(train)' in pretrain_log
    assert 'KNNMonitorHook: iter' in pretrain_log
    assert 'ReconstructionVisHook: drew' in pretrain_log
    # the MAE-only run really had no contrastive branch
    mae_log = open(osp.join(logs, 'pretrain_mae.log')).read()
    assert 'loss_nce' not in mae_log.split('Iter(train)', 1)[1]


def test_prepare_data_reuses_identical_data(tmp_path, capsys):
    import run_demo as demo
    root = str(tmp_path / 'data')
    meta = demo.prepare_data(root, seed=3, quick=True)
    stamp = os.stat(osp.join(root, 'meta.json')).st_mtime_ns
    assert demo.prepare_data(root, seed=3, quick=True) == meta
    assert os.stat(osp.join(root, 'meta.json')).st_mtime_ns == stamp
    assert 'reusing it' in capsys.readouterr().out
    # other options: regenerated in place
    other = demo.prepare_data(root, seed=4, quick=True)
    assert other['spec']['seed'] == 4
    assert 'regenerating' in capsys.readouterr().out


def test_failing_stage_stops_the_demo_naming_it(tmp_path):
    import run_demo as demo
    data = str(tmp_path / 'data')
    demo.prepare_data(data, seed=0, quick=True)
    # the data looks complete (same meta.json) but its videos are gone
    os.remove(osp.join(data, 'videos', 'pretrain_list.txt'))
    proc = run_demo('--work-dir', str(tmp_path / 'work'), '--data-root',
                    data, '--quick', '--silent')
    assert proc.returncode == 1
    assert 'FAILED: stage "pretrain_vicmae" failed' in proc.stdout
    assert 'pretrain_list.txt' in proc.stderr
    assert not osp.exists(osp.join(tmp_path, 'work', 'summary.json'))


@pytest.mark.parametrize('task', sorted(TASKS))
def test_run_configs_use_only_the_given_data_and_init(task, tmp_path):
    data = str(tmp_path / 'demo data')
    inits = ('vicmae', 'mae') if task == 'pretrain' else tuple(INITS)
    ckpt = str(tmp_path / 'ckpt.pth')
    open(ckpt, 'wb').close()
    for init in inits:
        cfg = build_run_config(TASKS[task], init, data,
                               str(tmp_path / 'work'), ckpt, QUICK_BUDGET)
        text = cfg.pretty_text
        # every data path now points at the given root, none at data/demo
        assert "'data/demo/" not in text
        assert data in text
        if task == 'pretrain':
            assert cfg.train_cfg.max_iters == QUICK_BUDGET.pretrain_iters
            nce = cfg.model.loss_weights['nce']
            assert (nce == 0.0) == (init == 'mae')
        else:
            assert cfg.train_cfg.max_epochs == \
                QUICK_BUDGET.downstream_epochs
            init_cfg = cfg.model.backbone.init_cfg
            if init == 'random':
                assert init_cfg is None
            else:
                assert init_cfg.checkpoint == ckpt
                assert init_cfg.prefix == 'backbone.'
        assert cfg.optim_wrapper.type in ('OptimWrapper',
                                          'CPUAmpOptimWrapper')
        # every run is seeded: the summary is the same on every run
        assert cfg.randomness['seed'] == 0


def test_rebase_rejects_configs_without_demo_data_root(tmp_path):
    from mmengine.config import Config
    cfg = Config(dict(train_dataloader=dict(dataset=dict(data_root='x'))))
    with pytest.raises(KeyError, match='demo_data_root'):
        rebase_data_paths(cfg, str(tmp_path))


def test_downstream_needs_an_existing_checkpoint(tmp_path):
    with pytest.raises(FileNotFoundError, match='linear_probe from vicmae'):
        build_run_config(TASKS['linear_probe'], 'vicmae', str(tmp_path),
                         str(tmp_path / 'w'), str(tmp_path / 'missing.pth'),
                         QUICK_BUDGET)
