# Copyright (c) vicmae_mm contributors. All rights reserved.
"""tools/train.py trains, saves, and resumes (weights-only) with a Runner."""
import json
import os.path as osp
import subprocess
import sys

import pytest
import torch

from helpers import REPO_ROOT, TINY_PRETRAIN_CFG, write_images


def _train(work_dir, data_root, *extra, cfg_options=()):
    cmd = [
        sys.executable,
        osp.join(REPO_ROOT, 'tools', 'train.py'), TINY_PRETRAIN_CFG,
        '--work-dir', work_dir, *extra, '--cfg-options',
        f'train_dataloader.dataset.data_root={data_root}', *cfg_options
    ]
    proc = subprocess.run(cmd, cwd=REPO_ROOT, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return proc


def _scalars(work_dir):
    import glob
    files = sorted(glob.glob(osp.join(work_dir, '*', 'vis_data',
                                      'scalars.json')))
    rows = []
    for f in files:
        with open(f) as fh:
            rows += [json.loads(line) for line in fh if line.strip()]
    return rows


@pytest.fixture(scope='module')
def data_root(tmp_path_factory):
    root = tmp_path_factory.mktemp('resume_data')
    write_images(str(root), num=16)
    return str(root)


def test_train_logs_losses_and_resumes(tmp_path, data_root):
    work = str(tmp_path / 'work')
    _train(work, data_root)
    rows = _scalars(work)
    assert [r['iter'] for r in rows] == [1, 2, 3, 4]
    for key in ('loss_rec', 'loss_nce', 'nce_acc'):
        assert all(key in r for r in rows), key
    # what the toolkit saves loads with plain weights-only torch.load,
    # no allowlist needed
    ckpt = torch.load(osp.join(work, 'iter_4.pth'), weights_only=True)
    assert ckpt['meta']['iter'] == 4
    # resume from the latest checkpoint and continue counting iterations
    proc = _train(work, data_root, '--resume',
                  cfg_options=['train_cfg.max_iters=6'])
    assert 'resumed epoch: 0, iter: 4' in proc.stdout + proc.stderr
    rows = _scalars(work)
    assert [r['iter'] for r in rows][-2:] == [5, 6]
    assert osp.isfile(osp.join(work, 'iter_6.pth'))
    resumed = torch.load(osp.join(work, 'iter_6.pth'), weights_only=True)
    assert resumed['meta']['iter'] == 6
