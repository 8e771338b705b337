# Copyright (c) vicmae_mm contributors. All rights reserved.
"""A training killed with SIGKILL and resumed with ``--resume`` reproduces
the uninterrupted run's per-iteration losses, data order and frame-pair
sampling included; a kill during a checkpoint write leaves the previous
checkpoint loadable and resume picks it.

Every run is ``tools/train.py`` in a subprocess on
``configs/pretrain_tiny_mixed_pairs.py``: frame pairs decoded from real mp4
files and two-view PNGs (``MixedPairDataset`` + ``MixedRatioSampler``),
``IterBasedTrainLoop`` of 8 iterations, 3 iterations per epoch, a
checkpoint every 2, ``randomness=dict(seed=2024, deterministic=True)``. One
listed video is empty, so the skip-and-resample path is replayed too. The
kills come from test-only hooks (``configs/sigkill_hooks.py``) inside the
training process, so they happen at an exact point.
"""
import glob
import json
import os
import os.path as osp
import signal
import subprocess
import sys

import cv2
import pytest
import torch

from helpers import REPO_ROOT
from vicmae_mm.utils import UnsafeCheckpointError, safe_torch_load

HERE = osp.dirname(osp.abspath(__file__))
CONFIGS = osp.join(HERE, 'configs')
sys.path.insert(0, osp.join(HERE, 'bad_inputs'))
from make_corpus import _frame, write_video  # noqa: E402

MAX_ITERS = 8
LOSS_KEYS = ('loss_rec', 'loss_nce')


def _config(name: str) -> str:
    return osp.join(CONFIGS, f'pretrain_tiny_mixed_pairs{name}.py')


def _train(config, work_dir, data_root, *extra):
    """Run tools/train.py; returns the CompletedProcess (any exit code)."""
    env = dict(os.environ)
    env['PYTHONPATH'] = os.pathsep.join(
        [CONFIGS] + [p for p in [env.get('PYTHONPATH')] if p])
    cmd = [
        sys.executable,
        osp.join(REPO_ROOT, 'tools', 'train.py'), config, '--work-dir',
        work_dir, *extra, '--cfg-options',
        f'train_dataloader.dataset.datasets.0.data_root={data_root}',
        f'train_dataloader.dataset.datasets.1.data_root={data_root}'
    ]
    return subprocess.run(
        cmd, cwd=REPO_ROOT, env=env, capture_output=True, text=True)


def _output(proc) -> str:
    return (proc.stdout + proc.stderr)[-4000:]


def _run_dirs(work_dir):
    return set(glob.glob(osp.join(work_dir, '2*')))


def _losses(run_dir) -> dict:
    """``iter -> {loss_rec, loss_nce, data_skipped}`` of one run."""
    rows = {}
    with open(osp.join(run_dir, 'vis_data', 'scalars.json')) as f:
        for line in f:
            row = json.loads(line)
            rows[row['iter']] = {
                k: row[k]
                for k in LOSS_KEYS + ('data_skipped', )
            }
    return rows


def _assert_same_iterations(resumed: dict, reference: dict, iters) -> None:
    assert sorted(resumed) == list(iters), sorted(resumed)
    for it in iters:
        for key in LOSS_KEYS:
            assert abs(resumed[it][key] - reference[it][key]) <= 1e-6, (
                f'iter {it} {key}: resumed {resumed[it][key]!r} vs '
                f'uninterrupted {reference[it][key]!r}')
        # the same bad file was met (and replaced) at the same iteration
        assert resumed[it]['data_skipped'] == reference[it]['data_skipped']


def _last_checkpoint(work_dir) -> str:
    with open(osp.join(work_dir, 'last_checkpoint')) as f:
        return f.read().strip()


@pytest.fixture(scope='module')
def data_root(tmp_path_factory) -> str:
    """5 videos of different lengths and fps + 1 empty one, 6 PNGs: with a
    1:1 ratio an epoch is 12 pairs, 3 iterations of 4."""
    root = tmp_path_factory.mktemp('resume_data')
    os.makedirs(root / 'videos')
    os.makedirs(root / 'images')
    videos = []
    for i, (frames, fps) in enumerate([(24, 12), (30, 10), (40, 25), (20, 8),
                                       (36, 12)]):
        write_video(str(root / 'videos' / f'v{i}.mp4'), frames, fps, i)
        videos.append(f'v{i}.mp4')
    open(root / 'videos' / 'empty.mp4', 'wb').close()
    videos.insert(2, 'empty.mp4')
    images = []
    for i in range(6):
        cv2.imwrite(str(root / 'images' / f'i{i}.png'), _frame(i, i + 1))
        images.append(f'i{i}.png')
    (root / 'videos.txt').write_text('\n'.join(videos) + '\n')
    (root / 'images.txt').write_text('\n'.join(images) + '\n')
    return str(root)


@pytest.fixture(scope='module')
def uninterrupted(data_root, tmp_path_factory) -> dict:
    work = str(tmp_path_factory.mktemp('uninterrupted'))
    proc = _train(_config(''), work, data_root)
    assert proc.returncode == 0, _output(proc)
    (run_dir, ) = _run_dirs(work)
    rows = _losses(run_dir)
    assert sorted(rows) == list(range(1, MAX_ITERS + 1))
    # the empty video was met and replaced during the run
    assert sum(r['data_skipped'] for r in rows.values()) >= 1
    return rows


def test_sigkill_mid_epoch_then_resume_gives_the_same_losses(
        tmp_path, data_root, uninterrupted):
    work = str(tmp_path / 'work')
    config = _config('_sigkill_after_iter4')
    killed = _train(config, work, data_root)
    assert killed.returncode == -signal.SIGKILL, _output(killed)
    # died after iteration 4 (the 1st of the 3 of epoch 2), with its
    # checkpoint complete and named by last_checkpoint
    assert _last_checkpoint(work) == osp.join(work, 'iter_4.pth')
    assert not glob.glob(osp.join(work, 'iter_6.pth'))
    (first_run, ) = _run_dirs(work)
    _assert_same_iterations(_losses(first_run), uninterrupted, range(1, 5))

    # same command plus --resume: the hook fires after iteration 4 only,
    # so the resumed run goes on to the end
    resumed = _train(config, work, data_root, '--resume')
    assert resumed.returncode == 0, _output(resumed)
    log = resumed.stdout + resumed.stderr
    assert 'resumed epoch: 0, iter: 4' in log
    (resumed_run, ) = _run_dirs(work) - {first_run}
    # iterations 5-6 finish the interrupted epoch, 7-8 are the next one
    _assert_same_iterations(
        _losses(resumed_run), uninterrupted, range(5, MAX_ITERS + 1))
    final = safe_torch_load(osp.join(work, f'iter_{MAX_ITERS}.pth'))
    assert final['meta']['iter'] == MAX_ITERS


def test_sigkill_during_checkpoint_write_keeps_previous_checkpoint(
        tmp_path, data_root, uninterrupted):
    work = str(tmp_path / 'work')
    killed = _train(_config('_sigkill_in_save4'), work, data_root)
    assert killed.returncode == -signal.SIGKILL, _output(killed)
    assert 'Saving checkpoint at 4 iterations' in killed.stdout + \
        killed.stderr
    # the half-written bytes went to a temporary file, never to iter_4.pth
    assert not osp.exists(osp.join(work, 'iter_4.pth'))
    (partial, ) = glob.glob(osp.join(work, '.iter_4.pth.*.tmp'))
    with pytest.raises((RuntimeError, UnsafeCheckpointError, EOFError)):
        safe_torch_load(partial)
    # the previous checkpoint is intact, loadable and still the latest
    assert _last_checkpoint(work) == osp.join(work, 'iter_2.pth')
    previous = safe_torch_load(osp.join(work, 'iter_2.pth'))
    assert previous['meta']['iter'] == 2
    assert all(
        torch.isfinite(v).all() for v in previous['state_dict'].values()
        if v.is_floating_point())

    (first_run, ) = _run_dirs(work)
    resumed = _train(_config(''), work, data_root, '--resume')
    assert resumed.returncode == 0, _output(resumed)
    log = resumed.stdout + resumed.stderr
    # tools/train.py resolves `--resume` to the newest complete checkpoint
    assert f'Load checkpoint from {osp.join(work, "iter_2.pth")}' in log
    assert 'resumed epoch: 0, iter: 2' in log
    (resumed_run, ) = _run_dirs(work) - {first_run}
    _assert_same_iterations(
        _losses(resumed_run), uninterrupted, range(3, MAX_ITERS + 1))
    assert safe_torch_load(osp.join(work, 'iter_4.pth'))['meta']['iter'] == 4
