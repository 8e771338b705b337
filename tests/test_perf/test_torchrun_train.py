# Copyright (c) vicmae_mm contributors. All rights reserved.
"""tools/dist_train.sh (torchrun, tools/train.py --launcher pytorch) trains
with 2 processes (gloo, CPU) on the tiny config."""
import glob
import json
import os
import os.path as osp
import subprocess
import sys

import torch

from dist_helpers import free_port
from helpers import REPO_ROOT, TINY_PRETRAIN_CFG, write_images


def test_torchrun_two_processes(tmp_path):
    data = str(tmp_path / 'images')
    write_images(data, num=16)
    work = str(tmp_path / 'work')
    env = dict(os.environ, OMP_NUM_THREADS='1', PYTHON=sys.executable,
               PORT=str(free_port()))
    cmd = [
        'bash',
        osp.join(REPO_ROOT, 'tools', 'dist_train.sh'), TINY_PRETRAIN_CFG, '2',
        '--work-dir', work, '--cfg-options',
        f'train_dataloader.dataset.data_root={data}', 'train_cfg.max_iters=2'
    ]
    proc = subprocess.run(
        cmd,
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out[-4000:]
    # the runner saw a 2-process gloo world
    assert 'Distributed training: True' in out, out[-3000:]
    assert 'GPU number: 2' in out
    assert 'Distributed launcher: pytorch' in out
    rows = []
    for path in glob.glob(osp.join(work, '*', 'vis_data', 'scalars.json')):
        with open(path) as f:
            rows += [json.loads(line) for line in f if line.strip()]
    assert [r['iter'] for r in rows] == [1, 2]
    assert all(torch.isfinite(torch.tensor(r['loss_rec'])) for r in rows)
    # one checkpoint, written by rank 0 only, loadable weights-only
    ckpt = torch.load(osp.join(work, 'iter_2.pth'), weights_only=True)
    assert ckpt['meta']['iter'] == 2
    assert any(k.startswith('backbone.') for k in ckpt['state_dict'])


def test_prepare_cpu_distributed_only_acts_for_torchrun(monkeypatch):
    from mmengine.config import Config
    from runner_cli import prepare_cpu_distributed
    cfg = Config(
        dict(launcher='none', env_cfg=dict(dist_cfg=dict(backend='nccl'))))
    prepare_cpu_distributed(cfg)
    assert 'model_wrapper_cfg' not in cfg
    assert cfg.env_cfg.dist_cfg.backend == 'nccl'
    if torch.cuda.is_available():
        return
    cfg.launcher = 'pytorch'
    for var in ('RANK', 'WORLD_SIZE', 'MASTER_ADDR', 'MASTER_PORT'):
        monkeypatch.delenv(var, raising=False)
    import pytest
    with pytest.raises(RuntimeError, match='RANK'):
        prepare_cpu_distributed(cfg)
