# Copyright (c) vicmae_mm contributors. All rights reserved.
"""The config of one demo run: a demo config with its data paths, its
initialisation, its seed's train subset and the budget applied."""
import os
import os.path as osp
from typing import Optional

from demo_stages import (CONFIG_DIR, INITS, PRETRAIN, Budget, Task,
                         read_json, write_json)
from frozen_probes import few_label_subset


def rebase_data_paths(cfg, data_root: str) -> int:
    """Point every path under the config's ``demo_data_root`` at
    ``data_root`` instead (datasets, hook dataloaders, evaluators).

    Returns:
        int: How many values were changed.
    """
    old = cfg.get('demo_data_root')
    if not old:
        raise KeyError(f'{cfg.filename}: no demo_data_root; demo configs '
                       'take it from configs/vicmae/demo/_base_/'
                       'demo_sizes.py')
    new = data_root.rstrip('/') + '/'
    changed = 0

    def visit(node):
        nonlocal changed
        items = node.items() if isinstance(node, dict) else enumerate(node)
        for key, value in list(items):
            if isinstance(value, str) and value.startswith(old):
                node[key] = new + value[len(old):]
                changed += 1
            elif isinstance(value, (dict, list)):
                visit(value)

    for key in list(cfg.keys()):
        value = cfg[key]
        if isinstance(value, str) and value.startswith(old):
            cfg[key] = new + value[len(old):]
            changed += 1
        elif isinstance(value, (dict, list)):
            visit(value)
    return changed


def load_demo_config(config: str, data_root: str, overrides=()):
    """A demo config with its data paths under ``data_root`` and
    ``overrides`` (``(dotted key, value)`` pairs) applied."""
    from mmengine.config import Config
    cfg = Config.fromfile(osp.join(CONFIG_DIR, config))
    if rebase_data_paths(cfg, data_root) == 0:
        raise ValueError(f'{config}: no data path under '
                         f'{cfg.demo_data_root} to point at {data_root}')
    if overrides:
        cfg.merge_from_dict(dict(overrides))
    return cfg


def set_init(cfg, what: str, init: str, checkpoint: Optional[str]) -> None:
    """Point a downstream config's ``Pretrained`` backbone init at the
    checkpoint of ``init``, or remove it for random initialisation."""
    init_cfg = cfg.model.backbone.get('init_cfg')
    if not (isinstance(init_cfg, dict)
            and init_cfg.get('type') == 'Pretrained'):
        raise ValueError(f'{what}: model.backbone.init_cfg is not a '
                         'Pretrained init')
    if init == 'random':
        cfg.model.backbone.init_cfg = None
        return
    if not checkpoint or not osp.isfile(checkpoint):
        raise FileNotFoundError(f'{what} from {init}: pretraining '
                                f'checkpoint {checkpoint!r} not found')
    init_cfg.checkpoint = checkpoint


def write_train_subset(task: Task, cfg, work_dir: str, seed: int,
                       max_size: Optional[int] = None) -> str:
    """Write the seed's part of the train split into ``work_dir`` and point
    ``cfg``'s train dataset at it; returns the file written.

    ``max_size`` (quick runs) caps the subset size.
    """
    import numpy as np
    kind, num = task.train_subset
    if max_size is not None:
        num = min(num, max_size)
    dataset = cfg.train_dataloader.dataset
    while 'dataset' in dataset:  # RepeatDataset and other wrappers
        dataset = dataset.dataset
    source = dataset.ann_file
    if not osp.isabs(source) and dataset.get('data_root'):
        source = osp.join(dataset.data_root, source)
    os.makedirs(work_dir, exist_ok=True)
    if kind == 'per_class':
        from vicmae_mm.datasets.annotation_lists import parse_annotation_list
        entries = parse_annotation_list(source)
        labels = np.array([label for _, label in entries])
        if (labels < 0).any():
            raise ValueError(f'{task.name}: {source} has unlabelled lines; '
                             'a per-class subset needs "path label" lines')
        keep = few_label_subset(labels, num, seed)
        target = osp.join(work_dir, f'train_{num}_per_class.txt')
        with open(target, 'w', encoding='utf-8', newline='\n') as f:
            f.write(''.join(f'{entries[i][0]} {entries[i][1]}\n'
                            for i in keep))
    elif kind == 'images':
        coco = read_json(source)
        if num > len(coco['images']):
            raise ValueError(f'{task.name}: {num} train images asked, '
                             f'{source} has {len(coco["images"])}')
        picked = np.random.default_rng(seed).choice(
            len(coco['images']), num, replace=False)
        images = [coco['images'][i] for i in sorted(picked)]
        ids = {image['id'] for image in images}
        coco = dict(coco, images=images, annotations=[
            a for a in coco['annotations'] if a['image_id'] in ids])
        target = osp.join(work_dir, f'train_{num}_images.json')
        write_json(target, coco)
    else:
        raise ValueError(f'{task.name}: unknown train_subset kind {kind!r}')
    dataset.ann_file = target
    return target


def build_run_config(task: Task,
                     init: str,
                     data_root: str,
                     work_dir: str,
                     checkpoint: Optional[str],
                     budget: Budget,
                     seed: int = 0,
                     threads: Optional[int] = None):
    """The config of one run, ready for ``Runner.from_cfg``.

    Args:
        task (Task): What to run.
        init (str): ``'vicmae'``, ``'mae'`` or ``'random'``.
        data_root (str): The generated demo data.
        work_dir (str): The run's work dir.
        checkpoint (str, optional): Pretraining checkpoint of a downstream
            run from ``vicmae`` / ``mae``.
        budget (Budget): Training lengths.
        seed (int): ``randomness.seed`` of the run.
        threads (int, optional): CPU threads the run may use; dataloaders
            of a one-thread run load in the main process (their workers
            would only compete with it for the core).
    """
    from runner_cli import ensure_weights_only_checkpoints, use_amp

    if init not in INITS:
        raise ValueError(f'unknown init {init!r}; one of {list(INITS)}')
    cfg = load_demo_config(task.config, data_root)
    cfg.work_dir = work_dir
    cfg.experiment_name = f'demo_{task.name}_{init}_seed{seed}'
    cfg.launcher = 'none'
    cfg.randomness = dict(cfg.get('randomness') or {}, seed=seed)
    if task.train_subset is not None:
        write_train_subset(task, cfg, work_dir, seed, budget.max_subset)
    if task is PRETRAIN:
        if init == 'random':
            raise ValueError('pretraining runs are vicmae or mae')
        if init == 'mae':
            # MAE-only: the contrastive branch is not even built
            cfg.model.loss_weights = dict(
                cfg.model.get('loss_weights') or {}, nce=0.0)
        if budget.pretrain_iters is not None:
            iters = budget.pretrain_iters
            cfg.train_cfg.max_iters = iters
            cfg.default_hooks.checkpoint.interval = iters
        if budget.pretrain_vis_interval is not None:
            for hook in cfg.custom_hooks:
                if hook['type'] in ('ReconstructionVisHook',
                                    'KNNMonitorHook'):
                    hook['interval'] = budget.pretrain_vis_interval
    else:
        set_init(cfg, task.name, init, checkpoint)
        if budget.downstream_epochs is not None:
            epochs = budget.downstream_epochs
            cfg.train_cfg.max_epochs = epochs
            cfg.train_cfg.val_interval = epochs
            cfg.default_hooks.checkpoint.interval = epochs
    if budget.batch_size is not None:
        cfg.train_dataloader.batch_size = budget.batch_size
    if threads == 1:
        for key in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
            if cfg.get(key):
                cfg[key].num_workers = 0
                cfg[key].persistent_workers = False
    if budget.log_interval is not None:
        cfg.default_hooks.logger.interval = budget.log_interval
    # as tools/train.py: an AmpOptimWrapper becomes bf16 autocast on CPU
    use_amp(cfg, False)
    ensure_weights_only_checkpoints(cfg)
    return cfg


def last_checkpoint(work_dir: str) -> str:
    """The checkpoint mmengine recorded last in ``work_dir``."""
    from vicmae_mm.utils.resume import read_last_checkpoint
    marker = osp.join(work_dir, 'last_checkpoint')
    path = read_last_checkpoint(work_dir)
    if path is None:
        raise FileNotFoundError(f'no checkpoint was saved in {work_dir} '
                                f'({marker} missing or empty)')
    if not osp.isfile(path):
        raise FileNotFoundError(f'{marker} names {path}, which is missing')
    return path
