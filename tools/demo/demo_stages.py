# Copyright (c) vicmae_mm contributors. All rights reserved.
"""What each stage of the demo runs: configs, budgets, initialisations.

Shared by ``run_demo.py`` (the orchestrator) and ``run_stage.py`` (one
stage in its own process). A stage is a list of *runs*; a run is one demo
config trained with a real mmengine ``Runner`` from one initialisation:

* ``pretrain``: ``configs/vicmae/pretrain_demo.py`` as ViC-MAE (``vicmae``)
  and as MAE-only (``mae``: ``model.loss_weights.nce = 0``);
* ``mmpretrain``: linear probe and fine-tuning on the digit images;
* ``mmaction``: direction of motion of the moving-digit clips;
* ``mmdet``: Mask R-CNN box and mask AP on the COCO-format digits;

each downstream run from the ViC-MAE checkpoint, the MAE-only checkpoint
and from random initialisation, with the same config and budget.
"""
import json
import os
import os.path as osp
from dataclasses import asdict, dataclass
from typing import Dict, List, Optional, Tuple

REPO_ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
CONFIG_DIR = osp.join(REPO_ROOT, 'configs', 'vicmae')

# initialisation -> how the summary names it
INITS = {
    'vicmae': 'ViC-MAE',
    'mae': 'MAE-only',
    'random': 'random init',
}
PRETRAINED_INITS = ('vicmae', 'mae')


@dataclass(frozen=True)
class Task:
    """One demo config and the metrics the summary takes from it.

    Args:
        name (str): Task name (also the run's folder name).
        config (str): Config path relative to ``configs/vicmae``.
        library (str): Library whose runner scope the config uses.
        metrics (tuple): ``(summary key, metric name, scale)`` triples: the
            validation metric ``metric name`` times ``scale`` is stored
            under ``summary key``.
    """
    name: str
    config: str
    library: str
    metrics: Tuple[Tuple[str, str, float], ...] = ()


PRETRAIN = Task('pretrain', 'pretrain_demo.py', 'mmpretrain')
DOWNSTREAM = (
    Task('linear_probe', 'demo/vit-demo_linear-probe_digits.py',
         'mmpretrain', (('linear_top1', 'accuracy/top1', 1.0), )),
    Task('finetune', 'demo/vit-demo_finetune_digits.py', 'mmpretrain',
         (('finetune_top1', 'accuracy/top1', 1.0), )),
    Task('video', 'demo/vit-demo_direction_moving-digits.py', 'mmaction',
         (('video_top1', 'acc/top1', 100.0), )),
    Task('detection', 'demo/mask-rcnn_vit-demo_coco-digits.py', 'mmdet',
         (('box_ap', 'coco/bbox_mAP', 100.0),
          ('mask_ap', 'coco/segm_mAP', 100.0))),
)
TASKS = {t.name: t for t in (PRETRAIN, ) + DOWNSTREAM}
# one process per stage: a library's registries and default scope stay in
# their own interpreter
STAGES = {
    'pretrain_vicmae': ('pretrain', ['pretrain'], ['vicmae']),
    'pretrain_mae': ('pretrain', ['pretrain'], ['mae']),
    'mmpretrain': ('downstream', ['linear_probe', 'finetune'],
                   list(INITS)),
    'mmaction': ('downstream', ['video'], list(INITS)),
    'mmdet': ('downstream', ['detection'], list(INITS)),
}

# summary columns: key -> header
COLUMNS = {
    'linear_top1': 'linear probe top-1 (%)',
    'finetune_top1': 'fine-tune top-1 (%)',
    'video_top1': 'video direction top-1 (%)',
    'box_ap': 'box AP',
    'mask_ap': 'mask AP',
    'knn_top1': 'kNN top-1 after pretraining (%)',
    'pretrain_time_s': 'pretraining time (s)',
}


@dataclass(frozen=True)
class Budget:
    """Training lengths of one demo run (same for every initialisation).

    ``None`` keeps the config's own value (the full demo). The quick
    budget (tests) shrinks everything to a few iterations.
    """
    pretrain_iters: Optional[int] = None
    pretrain_vis_interval: Optional[int] = None
    downstream_epochs: Optional[int] = None
    batch_size: Optional[int] = None
    log_interval: Optional[int] = None


FULL_BUDGET = Budget()
QUICK_BUDGET = Budget(
    pretrain_iters=4,
    pretrain_vis_interval=2,
    downstream_epochs=1,
    batch_size=4,
    log_interval=1)


def data_spec_kwargs(quick: bool) -> dict:
    """``DemoDataSpec`` fields of the demo data (see generate_demo_data).

    The plain style (near-white digits on a dark canvas): at the demo's
    size and budget the coloured, noisy default leaves every
    initialisation close to chance.
    """
    if quick:
        return dict(
            plain=True,
            images_per_class=(4, 2),
            direction_videos=(8, 4),
            pretrain_videos=4,
            coco_images=(6, 4))
    return dict(
        plain=True,
        images_per_class=(100, 50),
        direction_videos=(160, 80),
        coco_images=(200, 100))


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


def build_run_config(task: Task, init: str, data_root: str, work_dir: str,
                     checkpoint: Optional[str], budget: Budget):
    """The config of one run, ready for ``Runner.from_cfg``.

    Args:
        task (Task): What to run.
        init (str): ``'vicmae'``, ``'mae'`` or ``'random'``.
        data_root (str): The generated demo data.
        work_dir (str): The run's work dir.
        checkpoint (str, optional): Pretraining checkpoint of a downstream
            run from ``vicmae`` / ``mae``.
        budget (Budget): Training lengths.
    """
    from mmengine.config import Config
    from vicmae_mm.utils.runner_setup import (ensure_weights_only_checkpoints,
                                              use_amp)

    if init not in INITS:
        raise ValueError(f'unknown init {init!r}; one of {list(INITS)}')
    cfg = Config.fromfile(osp.join(CONFIG_DIR, task.config))
    if rebase_data_paths(cfg, data_root) == 0:
        raise ValueError(f'{task.config}: no data path under '
                         f'{cfg.demo_data_root} to point at {data_root}')
    cfg.work_dir = work_dir
    cfg.experiment_name = f'demo_{task.name}_{init}'
    cfg.launcher = 'none'
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
        init_cfg = cfg.model.backbone.get('init_cfg')
        if not (isinstance(init_cfg, dict)
                and init_cfg.get('type') == 'Pretrained'):
            raise ValueError(f'{task.config}: model.backbone.init_cfg is '
                             'not a Pretrained init')
        if init == 'random':
            cfg.model.backbone.init_cfg = None
        else:
            if not checkpoint or not osp.isfile(checkpoint):
                raise FileNotFoundError(
                    f'{task.name} from {init}: pretraining checkpoint '
                    f'{checkpoint!r} not found')
            init_cfg.checkpoint = checkpoint
        if budget.downstream_epochs is not None:
            epochs = budget.downstream_epochs
            cfg.train_cfg.max_epochs = epochs
            cfg.train_cfg.val_interval = epochs
            cfg.default_hooks.checkpoint.interval = epochs
    if budget.batch_size is not None:
        cfg.train_dataloader.batch_size = budget.batch_size
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


def say(message: str) -> None:
    """Print a progress line of the demo (``run_demo.py`` shows these)."""
    print(f'[demo] {message}', flush=True)


def read_json(path: str) -> dict:
    with open(path, encoding='utf-8') as f:
        return json.load(f)


def write_json(path: str, obj) -> None:
    """Write atomically, so a killed stage never leaves half a file."""
    os.makedirs(osp.dirname(osp.abspath(path)), exist_ok=True)
    tmp = path + '.tmp'
    with open(tmp, 'w', encoding='utf-8', newline='\n') as f:
        json.dump(obj, f, indent=1, sort_keys=True)
        f.write('\n')
    os.replace(tmp, path)


def summary_rows(results: Dict[str, dict]) -> List[dict]:
    """One row per initialisation with every summary column.

    Args:
        results (dict): ``{task: {init: {key: value}}}`` as written by
            ``run_stage.py``.

    Raises:
        KeyError: If a run's result is missing (naming the run).
    """
    rows = []
    for init, label in INITS.items():
        row = dict(init=init, name=label)
        for task in DOWNSTREAM:
            run = results.get(task.name, {}).get(init)
            if run is None:
                raise KeyError(f'no result for {task.name} from {init}')
            for key, _, _ in task.metrics:
                row[key] = run[key]
        pre = results.get('pretrain', {}).get(init)
        row['knn_top1'] = pre.get('knn_top1') if pre else None
        row['pretrain_time_s'] = pre['train_time_s'] if pre else None
        rows.append(row)
    return rows


def markdown_table(rows: List[dict]) -> str:
    """The summary rows as a GitHub markdown table."""

    def cell(value):
        if value is None:
            return '–'
        return f'{value:.1f}' if isinstance(value, float) else str(value)

    lines = [
        '| initialisation | ' + ' | '.join(COLUMNS.values()) + ' |',
        '| --- |' + ' ---: |' * len(COLUMNS),
    ]
    for row in rows:
        lines.append(f'| {row["name"]} | ' +
                     ' | '.join(cell(row[k]) for k in COLUMNS) + ' |')
    return '\n'.join(lines)


def spec_dict(spec) -> dict:
    """A ``DemoDataSpec`` as it reads back from ``meta.json``."""
    return json.loads(json.dumps(asdict(spec)))
