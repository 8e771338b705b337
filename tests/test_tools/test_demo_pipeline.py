# Copyright (c) vicmae_mm contributors. All rights reserved.
"""The demo of `make demo` (tools/demo/run_demo.py), end to end on a micro
budget: real data generation, real pretraining Runners (ViC-MAE and
MAE-only), frozen-feature probes of real mmpretrain / mmaction2 models and
real mmpretrain / mmaction2 / mmdet Runners over seeds, from both
checkpoints and from random initialisation, summary and figures."""
import json
import math
import os
import os.path as osp
import re
import subprocess
import sys

import cv2
import pytest

from helpers import REPO_ROOT

DEMO = osp.join(REPO_ROOT, 'tools', 'demo')
sys.path.insert(0, DEMO)

import demo_stages  # noqa: E402
from demo_run_config import build_run_config, rebase_data_paths  # noqa: E402
from demo_stages import COLUMNS, INITS, QUICK_BUDGET, TASKS  # noqa: E402

SEEDED = ('finetune_top1', 'video_top1', 'box_ap', 'mask_ap',
          'images_linear_few', 'direction_linear_few')
SINGLE = ('images_knn', 'images_linear', 'direction_knn', 'direction_linear')


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
    seeds = list(QUICK_BUDGET.seeds)
    for init, row in rows.items():
        assert set(COLUMNS) <= set(row), (init, sorted(row))
        for key in SINGLE:
            value = row[key]
            assert isinstance(value, float) and 0.0 <= value <= 100.0, \
                (init, key, value)
        for key in SEEDED:
            value = row[key]
            # one value per seed, and their mean and sample s.d.
            assert len(value['values']) == len(seeds), (init, key, value)
            for v in value['values']:
                assert math.isfinite(v) and 0.0 <= v <= 100.0, (init, key)
            assert value['mean'] == pytest.approx(
                sum(value['values']) / len(seeds), abs=0.01)
            spread = max(value['values']) - min(value['values'])
            assert 0.0 <= value['sd'] <= spread + 0.01
    # pretraining figures: kNN monitor and time for both checkpoints only
    for init in ('vicmae', 'mae'):
        assert 0.0 <= rows[init]['knn_top1'] <= 100.0
        assert rows[init]['pretrain_time_s'] > 0
    assert rows['random']['knn_top1'] is None
    assert summary['budget'] == 'quick'
    assert summary['total_time_s'] > 0
    assert set(summary['stage_times_s']) == {'data'} | set(
        demo_stages.STAGES)
    assert summary['machine']['jobs'] >= 1

    # every run trained from the right initialisation and seed, in its own
    # work dir, with that seed in its config
    runs = summary['runs']
    assert set(runs['pretrain']) == {'vicmae', 'mae'}
    assert set(runs['probes']) == set(INITS)
    for task in demo_stages.DOWNSTREAM:
        assert set(runs[task.name]) == set(INITS)
        for init, result in runs[task.name].items():
            assert result['seeds'] == seeds
            for seed, record in zip(seeds, result['runs']):
                work_dir = osp.join(work, f'{task.name}_{init}_seed{seed}')
                assert record['work_dir'] == work_dir
                assert record['seed'] == seed
                cfg = [f for f in os.listdir(work_dir) if f.endswith('.py')]
                text = open(osp.join(work_dir, cfg[0])).read()
                assert f'seed={seed}' in text.replace(' ', ''), work_dir
    vicmae_ckpt = runs['pretrain']['vicmae']['checkpoint']
    mae_ckpt = runs['pretrain']['mae']['checkpoint']
    assert vicmae_ckpt != mae_ckpt
    for ckpt in (vicmae_ckpt, mae_ckpt):
        assert osp.isfile(ckpt)

    # the markdown table, printed at the end and written to summary.md
    md = open(osp.join(work, 'summary.md'), encoding='utf-8').read()
    for text in (md, stdout):
        for header in COLUMNS.values():
            assert f'| {header} |' in text
        header = '| measurement | ' + ' | '.join(INITS.values()) + ' |'
        assert header in text.splitlines()
    table = [line for line in md.splitlines() if line.startswith('| ')]
    # header, separator, one line per measurement
    assert len(table) == 2 + len(COLUMNS)
    assert set(table[1].replace('|', '').split()) <= {'---', '---:'}
    assert ' ± ' in md


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
    # both pretraining stages fail; whichever ends first is named
    assert re.search(r'FAILED: stage "pretrain_(vicmae|mae)" failed',
                     proc.stdout), proc.stdout[-2000:]
    assert 'pretrain_list.txt' in proc.stderr
    assert not osp.exists(osp.join(tmp_path, 'work', 'summary.json'))


@pytest.fixture(scope='module')
def quick_data(tmp_path_factory):
    import run_demo as demo
    data = str(tmp_path_factory.mktemp('demo data') / 'data')
    demo.prepare_data(data, seed=0, quick=True)
    return data


@pytest.mark.parametrize('task', sorted(TASKS))
def test_run_configs_use_only_the_given_data_and_init(task, tmp_path,
                                                      quick_data):
    data = quick_data
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
    cfg = build_run_config(TASKS[task], inits[0], data, str(tmp_path / 'w'),
                           ckpt, QUICK_BUDGET, seed=2, threads=1)
    assert cfg.randomness['seed'] == 2
    # a one-thread run loads data in its main process
    assert cfg.train_dataloader.num_workers == 0
    assert not cfg.train_dataloader.persistent_workers


def _train_ann(cfg):
    dataset = cfg.train_dataloader.dataset
    while 'dataset' in dataset:
        dataset = dataset.dataset
    return dataset.ann_file


def test_few_label_runs_train_on_the_seeds_subset(tmp_path, quick_data):
    from demo_stages import FULL_BUDGET
    ckpt = str(tmp_path / 'ckpt.pth')
    open(ckpt, 'wb').close()
    # direction: 10 clips per class of the train list (all 3 in quick data)
    task = TASKS['video_direction']
    cfg = build_run_config(task, 'random', quick_data, str(tmp_path / 'v'),
                           None, FULL_BUDGET, seed=1)
    rows = open(_train_ann(cfg)).read().splitlines()
    full = open(osp.join(quick_data, 'videos',
                         'train_list.txt')).read().splitlines()
    assert sorted(rows) == sorted(full)  # fewer than 10 per class: all
    # detection: the seed's images and only their annotations
    task = TASKS['detection']
    subsets = []
    for seed in (0, 1):
        cfg = build_run_config(task, 'random', quick_data,
                               str(tmp_path / f'd{seed}'), None,
                               QUICK_BUDGET, seed=seed)
        coco = json.load(open(_train_ann(cfg)))
        ids = {image['id'] for image in coco['images']}
        assert len(ids) == QUICK_BUDGET.max_subset
        assert coco['annotations'] and all(
            a['image_id'] in ids for a in coco['annotations'])
        subsets.append(ids)
    assert subsets[0] != subsets[1]
    with pytest.raises(ValueError, match='50 train images asked'):
        build_run_config(task, 'random', quick_data, str(tmp_path / 'x'),
                         None, FULL_BUDGET)


def test_rebase_rejects_configs_without_demo_data_root(tmp_path):
    from mmengine.config import Config
    cfg = Config(dict(train_dataloader=dict(dataset=dict(data_root='x'))))
    with pytest.raises(KeyError, match='demo_data_root'):
        rebase_data_paths(cfg, str(tmp_path))


def test_downstream_needs_an_existing_checkpoint(tmp_path):
    with pytest.raises(FileNotFoundError, match='finetune from vicmae'):
        build_run_config(TASKS['finetune'], 'vicmae', str(tmp_path),
                         str(tmp_path / 'w'), str(tmp_path / 'missing.pth'),
                         QUICK_BUDGET)
