# Copyright (c) vicmae_mm contributors. All rights reserved.
import copy
import itertools
import os
import os.path as osp
import sys
import tempfile

import pytest

_TESTS = osp.dirname(osp.abspath(__file__))
# the tools' own modules (reference_vicmae, flops, converter_cli...), found
# the way the tools find them when run as scripts
for _tools in ('analysis', 'model_converters'):
    sys.path.insert(0, osp.join(osp.dirname(_TESTS), 'tools', _tools))
# tools/ itself (runner_cli, cpu_runtime) last: its test.py is not the
# standard library's `test`
sys.path.append(osp.join(osp.dirname(_TESTS), 'tools'))
sys.path.insert(0, _TESTS)

from helpers import TINY_PRETRAIN_CFG, write_images  # noqa: E402

# One CPU kernel cache for the whole run, shared with the subprocesses the
# tests start (a resumed run must pick the kernels its first run picked),
# and apart from the user's own ~/.cache.
os.environ.setdefault(
    'VICMAE_CPU_KERNEL_CACHE',
    osp.join(tempfile.mkdtemp(prefix='vicmae_kernels_'), 'cpu_kernels.json'))

_RUNNER_IDS = itertools.count()


@pytest.fixture(autouse=True)
def _unique_experiment_names(monkeypatch):
    """Give every Runner a test builds its own experiment name.

    mmengine names a Runner's logger and visualizer instances after
    ``experiment_name``, which defaults to ``<config>_<timestamp>`` with
    one-second resolution; a second Runner built in the same second (or with
    the same fixed name) gets the first one's visualizer, and its images and
    scalars land in the first one's work_dir.
    """
    from mmengine.runner import Runner
    original = Runner.from_cfg.__func__

    def from_cfg(cls, cfg):
        cfg = copy.deepcopy(cfg)
        name = cfg.get('experiment_name') or osp.splitext(
            osp.basename(cfg.filename or 'runner'))[0]
        cfg.experiment_name = f'{name}_{os.getpid()}_{next(_RUNNER_IDS)}'
        return original(cls, cfg)

    monkeypatch.setattr(Runner, 'from_cfg', classmethod(from_cfg))


@pytest.fixture(scope='session')
def tiny_pretrain_ckpt(tmp_path_factory) -> str:
    """A ViC-MAE checkpoint produced by a real mmengine Runner (4 iters)."""
    import vicmae_mm  # noqa: F401
    from mmengine.config import Config
    from mmengine.runner import Runner

    root = tmp_path_factory.mktemp('tiny_pretrain')
    write_images(str(root / 'images'), num=16)
    cfg = Config.fromfile(TINY_PRETRAIN_CFG)
    cfg.work_dir = str(root / 'work')
    cfg.train_dataloader.dataset.data_root = str(root / 'images')
    cfg.experiment_name = 'tiny_pretrain_fixture'
    runner = Runner.from_cfg(cfg)
    runner.train()
    ckpt = osp.join(cfg.work_dir, 'iter_4.pth')
    assert osp.isfile(ckpt), os.listdir(cfg.work_dir)
    return ckpt
