# Copyright (c) vicmae_mm contributors. All rights reserved.
import os
import os.path as osp
import sys

import pytest

sys.path.insert(0, osp.dirname(osp.abspath(__file__)))

from helpers import TINY_PRETRAIN_CFG, write_images  # noqa: E402


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
