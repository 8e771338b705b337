# Copyright (c) vicmae_mm contributors. All rights reserved.
"""What each stage of the demo runs: configs, budgets, initialisations,
seeds and the summary's rows.

Shared by ``run_demo.py`` (the orchestrator) and ``run_stage.py`` (one
stage in its own process). A stage trains *runs* and fits *probes*:

* a run is one demo config trained with a real mmengine ``Runner`` from
  one initialisation and seed (``pretrain``: ViC-MAE and MAE-only with
  ``model.loss_weights.nce = 0``; mmpretrain fine-tuning on the digit
  images; mmaction2 direction of motion from 10 labelled clips per class;
  mmdet Mask R-CNN box and mask AP from 50 COCO-format digit images);
* a probe (``frozen_probes.py``) fits kNN and linear classifiers on the
  frozen backbone's features of a downstream config's model (digit images;
  direction of motion of the moving-digit clips), with every label and
  with a few labels per class drawn by each seed.

Every downstream run and probe uses the ViC-MAE checkpoint, the MAE-only
checkpoint and random initialisation, with the same config and budget.
"""
import json
import os
import os.path as osp
import statistics
from dataclasses import asdict, dataclass
from typing import Dict, List, Optional, Sequence, Tuple

from frozen_probes import Probe, few_label_subset

REPO_ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
CONFIG_DIR = osp.join(REPO_ROOT, 'configs', 'vicmae')

# initialisation -> how the summary names it
INITS = {
    'vicmae': 'ViC-MAE',
    'mae': 'MAE-only',
    'random': 'random init',
}
PRETRAINED_INITS = ('vicmae', 'mae')
# seeds of every seeded measurement (few-label subsets, downstream runs)
SEEDS = (0, 1, 2)


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
        seeds (tuple): One run per seed and initialisation
            (``randomness.seed``); the summary shows mean and s.d.
        train_subset (tuple, optional): Train on a part of the train
            split, drawn by the run's seed: ``('per_class', n)`` samples
            of each class of a ``path label`` list, or ``('images', n)``
            images of a COCO annotation file.
    """
    name: str
    config: str
    library: str
    metrics: Tuple[Tuple[str, str, float], ...] = ()
    seeds: Tuple[int, ...] = (0, )
    train_subset: Optional[Tuple[str, int]] = None


PRETRAIN = Task('pretrain', 'pretrain_demo.py', 'mmpretrain')
DOWNSTREAM = (
    Task('finetune', 'demo/vit-demo_finetune_digits.py', 'mmpretrain',
         (('finetune_top1', 'accuracy/top1', 1.0), ), SEEDS),
    # direction from 10 labelled clips per class: with all 160, random
    # initialisation learns it as well as any checkpoint
    Task('video_direction', 'demo/vit-demo_direction_moving-digits.py',
         'mmaction', (('video_top1', 'acc/top1', 100.0), ), SEEDS,
         train_subset=('per_class', 10)),
    # a quarter of the COCO-format train images: at the demo's budget the
    # full set let the order of the initialisations change with the seed
    Task('detection', 'demo/mask-rcnn_vit-demo_coco-digits.py', 'mmdet',
         (('box_ap', 'coco/bbox_mAP', 100.0),
          ('mask_ap', 'coco/segm_mAP', 100.0)), SEEDS,
         train_subset=('images', 50)),
)
TASKS = {t.name: t for t in (PRETRAIN, ) + DOWNSTREAM}

# Frozen-feature probes: the model of `config` (with `overrides`), test
# pipeline, the given annotation lists.
PROBE_CONFIGS = {
    'mmpretrain': ('demo/vit-demo_linear-probe_digits.py', ()),
    # the patch-token map, so the probe can keep the time axis
    'mmaction': ('demo/vit-demo_direction_moving-digits.py',
                 (('model.backbone.out_type', 'featmap'), )),
}
PROBES = {
    'mmpretrain': (Probe('images', 'images/train.txt', 'images/val.txt',
                         few_per_class=10), ),
    'mmaction': (Probe('direction', 'videos/train_list.txt',
                       'videos/val_list.txt', few_per_class=5,
                       per_frame=True), ),
}


@dataclass(frozen=True)
class Stage:
    """One process of the demo.

    Args:
        kind (str): ``'pretrain'`` or ``'downstream'`` (needs the
            pretraining checkpoints).
        tasks (tuple): Names of the :data:`TASKS` it trains.
        inits (tuple): Initialisations of every task and probe.
        library (str, optional): The library whose :data:`PROBES` it fits.
    """
    kind: str
    tasks: Tuple[str, ...]
    inits: Tuple[str, ...]
    library: Optional[str] = None


# One process per stage: a library's registries and default scope stay in
# their own interpreter. Downstream stages are one library from one
# initialisation, so that run_demo's jobs share the work evenly (longest
# library first).
STAGES = {
    'pretrain_vicmae': Stage('pretrain', ('pretrain', ), ('vicmae', )),
    'pretrain_mae': Stage('pretrain', ('pretrain', ), ('mae', )),
}
for _library, _tasks in (('mmdet', ('detection', )),
                         ('mmaction', ('video_direction', )),
                         ('mmpretrain', ('finetune', ))):
    for _init in INITS:
        STAGES[f'{_library}_{_init}'] = Stage(
            'downstream', _tasks, (_init, ),
            _library if _library in PROBES else None)
del _library, _tasks, _init

# summary rows: key -> what it is; probe keys are <probe>_<classifier>
COLUMNS = {
    'knn_top1': 'pretraining: kNN monitor top-1 (%)',
    'pretrain_time_s': 'pretraining: time (s)',
    'images_knn': 'digit images, frozen: kNN top-1 (%)',
    'images_linear': 'digit images, frozen: linear top-1 (%)',
    'images_linear_few': 'digit images, frozen: linear, 10 labels/class',
    'finetune_top1': 'digit images: mmpretrain fine-tune top-1 (%)',
    'direction_knn': 'clip direction, frozen: kNN top-1 (%)',
    'direction_linear': 'clip direction, frozen: linear top-1 (%)',
    'direction_linear_few': 'clip direction, frozen: linear, 5 labels/class',
    'video_top1':
    'clip direction: mmaction2 fine-tune, 10 labels/class, top-1 (%)',
    'box_ap': 'COCO digits: mmdet Mask R-CNN, 50 train images, box AP',
    'mask_ap': 'COCO digits: mmdet Mask R-CNN, 50 train images, mask AP',
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
    seeds: Optional[Tuple[int, ...]] = None
    probe_samples: Optional[int] = None
    max_subset: Optional[int] = None


FULL_BUDGET = Budget()
QUICK_BUDGET = Budget(
    pretrain_iters=4,
    pretrain_vis_interval=2,
    downstream_epochs=1,
    batch_size=4,
    log_interval=1,
    seeds=(0, 1),
    probe_samples=64,
    max_subset=4)


def budget_of(quick: bool) -> Budget:
    """The budget of a ``--quick`` (tests) or a full demo run."""
    return QUICK_BUDGET if quick else FULL_BUDGET


def budget_seeds(budget: Budget) -> Tuple[int, ...]:
    """The seeds of the seeded measurements under ``budget``."""
    return tuple(budget.seeds or SEEDS)


def seeds_of(task: Task, budget: Budget) -> Tuple[int, ...]:
    """The seeds a task runs with under ``budget`` (a one-seed task keeps
    its seed)."""
    return task.seeds if len(task.seeds) == 1 else budget_seeds(budget)


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
            direction_videos=(12, 8),
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


def seeded(values: Sequence[float]) -> dict:
    """Mean, sample s.d. (0 for one value) and the values of a seeded
    measurement."""
    values = [float(v) for v in values]
    sd = statistics.stdev(values) if len(values) > 1 else 0.0
    return dict(
        mean=round(statistics.fmean(values), 2), sd=round(sd, 2),
        values=values)


def summary_rows(results: Dict[str, dict]) -> List[dict]:
    """One row per initialisation with every summary column; a measurement
    with several seeds becomes :func:`seeded` statistics.

    Args:
        results (dict): ``{task: {init: record}}`` as written by
            ``run_stage.py``; ``results['probes'][init]`` holds the probe
            scores.

    Raises:
        KeyError: If a run's or probe's result is missing (naming it).
    """
    rows = []
    for init, label in INITS.items():
        row = dict(init=init, name=label)
        for task in DOWNSTREAM:
            run = results.get(task.name, {}).get(init)
            if run is None:
                raise KeyError(f'no result for {task.name} from {init}')
            for key, _, _ in task.metrics:
                row[key] = seeded(run[key])
        probes = results.get('probes', {}).get(init)
        if probes is None:
            raise KeyError(f'no probe result from {init}')
        for key in COLUMNS:
            if key in row or key in ('knn_top1', 'pretrain_time_s'):
                continue
            if key not in probes:
                raise KeyError(f'no probe result {key} from {init}')
            value = probes[key]
            row[key] = seeded(value) if isinstance(value, list) else value
        pre = results.get('pretrain', {}).get(init)
        row['knn_top1'] = pre.get('knn_top1') if pre else None
        row['pretrain_time_s'] = pre['train_time_s'] if pre else None
        rows.append(row)
    return rows


def cell(value) -> str:
    """A summary value as the tables print it."""
    if value is None:
        return '–'
    if isinstance(value, dict):
        if len(value['values']) == 1:
            return f'{value["mean"]:.1f}'
        return f'{value["mean"]:.1f} ± {value["sd"]:.1f}'
    return f'{value:.1f}' if isinstance(value, float) else str(value)


def markdown_table(rows: List[dict]) -> str:
    """The summary as a GitHub markdown table: one line per measurement,
    one column per initialisation."""
    lines = [
        '| measurement | ' + ' | '.join(r['name'] for r in rows) + ' |',
        '| --- |' + ' ---: |' * len(rows),
    ]
    for key, header in COLUMNS.items():
        lines.append(f'| {header} | ' +
                     ' | '.join(cell(r[key]) for r in rows) + ' |')
    return '\n'.join(lines)


def spec_dict(spec) -> dict:
    """A ``DemoDataSpec`` as it reads back from ``meta.json``."""
    return json.loads(json.dumps(asdict(spec)))
