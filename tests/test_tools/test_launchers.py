# Copyright (c) vicmae_mm contributors. All rights reserved.
"""Multi-node launching: slurm CPUs and port from the job, and one resume
checkpoint chosen by rank 0 for every rank."""
import os
import os.path as osp
import subprocess
import sys
from types import SimpleNamespace

import pytest
from mmengine.config import Config

from dist_helpers import run_distributed
from helpers import REPO_ROOT

SLURM = osp.join(REPO_ROOT, 'tools', 'slurm_train.sh')
VITL = osp.join(REPO_ROOT, 'configs', 'vicmae', 'pretrain_vitl.py')


def test_slurm_port_comes_from_the_job(monkeypatch):
    from runner_cli import prepare_slurm_port
    monkeypatch.delenv('MASTER_PORT', raising=False)
    monkeypatch.setenv('SLURM_JOB_ID', '4242424')
    prepare_slurm_port()
    assert os.environ['MASTER_PORT'] == str(20000 + 4242424 % 20000)
    # two jobs on one node get different ports
    monkeypatch.delenv('MASTER_PORT')
    monkeypatch.setenv('SLURM_JOB_ID', '4242425')
    prepare_slurm_port()
    assert os.environ['MASTER_PORT'] == str(20000 + 4242425 % 20000)
    # an explicit port wins
    monkeypatch.setenv('MASTER_PORT', '31000')
    prepare_slurm_port()
    assert os.environ['MASTER_PORT'] == '31000'


def _run_slurm_script(tmp_path, **env):
    """tools/slurm_train.sh with a stand-in srun that records its command."""
    bindir = tmp_path / 'bin'
    bindir.mkdir(exist_ok=True)
    log = tmp_path / 'srun_args.txt'
    srun = bindir / 'srun'
    srun.write_text(f'#!/bin/sh\nprintf "%s\\n" "$@" > {log}\n')
    srun.chmod(0o755)
    python = bindir / 'python'  # this interpreter, as `python`
    python.write_text(f'#!/bin/sh\nexec {sys.executable} "$@"\n')
    python.chmod(0o755)
    full_env = dict(os.environ, PATH=f'{bindir}:{os.environ["PATH"]}', **env)
    for key in ('CPUS_PER_TASK', 'SLURM_CPUS_PER_TASK'):
        if key not in env:
            full_env.pop(key, None)
    proc = subprocess.run(['bash', SLURM, 'part', 'job', VITL, 'work'],
                          env=full_env, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    return log.read_text().split('\n')


def test_slurm_cpus_per_task_follow_the_dataloader(tmp_path):
    workers = Config.fromfile(VITL).train_dataloader.num_workers
    args = _run_slurm_script(tmp_path)
    assert f'--cpus-per-task={workers + 1}' in args
    assert '--launcher=slurm' in args and '--ntasks=8' in args


@pytest.mark.parametrize('env, expected', [
    (dict(SLURM_CPUS_PER_TASK='14'), '14'),  # inside an allocation
    (dict(CPUS_PER_TASK='3', SLURM_CPUS_PER_TASK='14'), '3'),  # explicit
])
def test_slurm_cpus_per_task_overrides(tmp_path, env, expected):
    assert f'--cpus-per-task={expected}' in _run_slurm_script(tmp_path, **env)


def resume_choice_worker(rank, world_size, work_dir):
    import runner_cli as cli
    if rank == 1:  # this rank would see another "newest" file
        cli.find_resume_checkpoint = lambda _: osp.join(work_dir, 'iter_2.pth')
    runner = SimpleNamespace(work_dir=work_dir, _load_from=None,
                             _resume=False)
    chosen = cli.resume_latest(runner)
    return dict(chosen=chosen, load_from=runner._load_from,
                resume=runner._resume)


def test_rank0_chooses_the_resume_checkpoint_for_every_rank(tmp_path):
    import torch
    work = str(tmp_path)
    for it in (2, 4):
        torch.save({'meta': {'iter': it}}, osp.join(work, f'iter_{it}.pth'))
    with open(osp.join(work, 'last_checkpoint'), 'w') as f:
        f.write(osp.join(work, 'iter_4.pth'))
    results = run_distributed(resume_choice_worker, 2, work)
    expected = osp.join(work, 'iter_4.pth')
    assert [r['chosen'] for r in results] == [expected, expected]
    assert all(r['load_from'] == expected and r['resume'] for r in results)
