# Copyright (c) vicmae_mm contributors. All rights reserved.
"""Every collective of the toolkit goes through one device-correct path:
vicmae_mm.models.utils.dist_utils (the group's device rule) or mmengine.dist
(the same rule by backend name). Checked in the source, and in a real
2-process run of the default pretraining config with every default hook plus
the kNN and reconstruction hooks."""
import ast
import glob
import inspect
import os
import os.path as osp
from collections import Counter

import numpy as np

from dist_helpers import run_distributed
from helpers import REPO_ROOT, TINY_PRETRAIN_CFG, write_images

COLLECTIVES = ('all_reduce', 'all_gather', 'all_gather_into_tensor',
               'all_gather_single', 'reduce_scatter', 'reduce_scatter_tensor',
               'reduce_scatter_single', 'broadcast', 'reduce', 'gather',
               'scatter', 'all_to_all', 'all_to_all_single',
               'all_gather_object', 'broadcast_object_list', 'gather_object')
DEVICE_CORRECT = ('vicmae_mm.models.utils.dist_utils', 'mmengine.dist.')


def test_no_raw_collective_outside_the_dist_utils():
    """No module of the package calls torch.distributed's collectives
    directly (barrier / init / destroy move no tensor and are allowed)."""
    offenders = []
    for path in glob.glob(osp.join(REPO_ROOT, 'vicmae_mm', '**', '*.py'),
                          recursive=True):
        if path.endswith(osp.join('models', 'utils', 'dist_utils.py')):
            continue
        tree = ast.parse(open(path, encoding='utf-8').read())
        for node in ast.walk(tree):
            if isinstance(node, ast.Attribute) and node.attr in COLLECTIVES \
                    and isinstance(node.value, (ast.Name, ast.Attribute)):
                base = ast.unparse(node.value)
                if base in ('dist', 'torch.distributed', 'torch_dist'):
                    offenders.append(f'{path}:{node.lineno} {base}.'
                                     f'{node.attr}')
            if isinstance(node, ast.ImportFrom) and node.module in (
                    'torch.distributed', 'torch.distributed.distributed_c10d'):
                names = {a.name for a in node.names} & set(COLLECTIVES)
                if names:
                    offenders.append(f'{path}:{node.lineno} imports '
                                     f'{sorted(names)}')
    assert not offenders, offenders


def _caller(frame_depth_skip=2) -> str:
    for info in inspect.stack()[frame_depth_skip:]:
        module = info.frame.f_globals.get('__name__', '')
        if not module.startswith('torch.distributed'):
            return module
    return '?'


def audited_training_worker(rank, world_size, work_dir, data):
    import torch.distributed as dist
    calls = Counter()
    devices = set()
    for name in COLLECTIVES:
        original = getattr(dist, name, None)
        if original is None:
            continue

        def audited(*args, __name=name, __original=original, **kwargs):
            calls[(_caller(), __name)] += 1
            for a in list(args) + list(kwargs.values()):
                for t in (a if isinstance(a, (list, tuple)) else [a]):
                    if hasattr(t, 'device'):
                        devices.add(str(t.device))
            return __original(*args, **kwargs)

        setattr(dist, name, audited)

    import vicmae_mm  # noqa: F401
    from mmengine.config import Config
    from mmengine.runner import Runner

    from runner_cli import prepare_cpu_distributed
    cfg = Config.fromfile(TINY_PRETRAIN_CFG)
    cfg.work_dir = work_dir
    cfg.launcher = 'pytorch'
    cfg.experiment_name = f'audit_rank{rank}'
    cfg.train_dataloader.batch_size = 2
    cfg.train_dataloader.dataset.data_root = osp.join(data, 'pretrain')
    cfg.train_cfg.max_iters = 2
    cfg.randomness = dict(seed=0, diff_rank_seed=True)
    loader = dict(
        batch_size=2, num_workers=0,
        sampler=dict(type='DefaultSampler', shuffle=True),
        collate_fn=dict(type='default_collate'),
        dataset=dict(
            type='CustomDataset', data_root=osp.join(data, 'labelled'),
            pipeline=[dict(type='LoadImageFromFile'),
                      dict(type='Resize', scale=(32, 32)),
                      dict(type='PackInputs')]))
    cfg.custom_hooks = cfg.custom_hooks + [
        dict(type='KNNMonitorHook', interval=2, k=2,
             train_dataloader=loader, val_dataloader=loader),
        dict(type='ReconstructionVisHook', interval=2, num_samples=1),
    ]
    prepare_cpu_distributed(cfg)
    runner = Runner.from_cfg(cfg)
    runner.train()
    knn = float(runner.message_hub.get_scalar('train/knn_top1').current())
    return dict(calls=[[c, n, k] for (c, n), k in calls.items()],
                devices=sorted(devices), knn=knn)


def test_real_two_process_run_uses_only_device_correct_collectives(tmp_path):
    import cv2
    data = str(tmp_path / 'data')
    write_images(osp.join(data, 'pretrain'), num=8)
    rng = np.random.default_rng(0)
    for c, colour in enumerate(((200, 30, 30), (30, 200, 30))):
        os.makedirs(osp.join(data, 'labelled', f'c{c}'))
        for i in range(4):
            img = np.clip(np.array(colour) + rng.normal(0, 20, (32, 32, 3)),
                          0, 255).astype(np.uint8)
            cv2.imwrite(osp.join(data, 'labelled', f'c{c}', f'{i}.png'), img)
    results = run_distributed(audited_training_worker, 2,
                              str(tmp_path / 'work'), data)
    for rank, r in enumerate(results):
        callers = {caller for caller, _, _ in r['calls']}
        assert all(c.startswith(DEVICE_CORRECT) or c.startswith('torch.')
                   for c in callers), (rank, r['calls'])
        by_name = Counter()
        for caller, name, n in r['calls']:
            if caller.startswith('vicmae_mm'):
                by_name[name] += n
        # 2 iterations: GlobalBN1d's 3 all-reduces per BN layer (2 layers)
        # and the loss guard's vote; InfoNCE's one all-gather
        assert by_name['all_reduce'] >= 2 * (3 * 2 + 1), r['calls']
        assert by_name['all_gather_single'] + by_name[
            'all_gather_into_tensor'] == 2, r['calls']
        assert r['devices'] == ['cpu']
    # the kNN hook measured on both ranks and broadcast one figure
    assert results[0]['knn'] == results[1]['knn']
    assert osp.isfile(glob.glob(osp.join(
        str(tmp_path / 'work'), '*', 'vis_data', 'vis_image',
        'reconstruction_2.png'))[0])
