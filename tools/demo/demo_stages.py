# Copyright (c) vicmae_mm contributors. All rights reserved.
"""What each stage of the demo runs: configs, budgets, initialisations,
seeds and the summary's columns (``demo_run_config.py`` turns a task into
a run's config, ``demo_summary.py`` the results into the summary).

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
from dataclasses import dataclass
from typing import Optional, Tuple

from frozen_probes import Probe

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
