# Copyright (c) vicmae_mm contributors. All rights reserved.
"""Run one stage of the demo in this process (``run_demo.py`` starts one
process per stage, so each library's registries and default scope stay
apart).

    python tools/demo/run_stage.py mmpretrain_vicmae --data-root D \
        --work-dir W --checkpoint vicmae=W/pretrain_vicmae/iter_500.pth \
        --results R.json --threads 1

A stage first fits its library's frozen-feature probes (``PROBES``), then
trains its tasks, one real mmengine ``Runner`` per seed (``train()``,
validation at the end); the stage's results (metrics, times, checkpoint
and figure paths) go to ``--results`` as JSON. Lines starting with
``[demo]`` report progress.
Any failure raises, so the process exits non-zero.
"""
import argparse
import copy
import glob
import math
import os.path as osp
import sys
import time
from typing import Dict, Optional

sys.path.insert(0, osp.dirname(osp.abspath(__file__)))
# tools/ (runner_cli, cpu_runtime) last: its test.py is not the stdlib's
sys.path.append(osp.dirname(osp.dirname(osp.abspath(__file__))))

from demo_run_config import (build_run_config, last_checkpoint,  # noqa: E402
                             load_demo_config, set_init)
from demo_stages import (PROBE_CONFIGS, PROBES, STAGES, TASKS,  # noqa: E402
                         budget_of, budget_seeds, say, seeds_of, write_json)
from demo_summary import seeded  # noqa: E402
from frozen_probes import extract_features, probe_scores  # noqa: E402


def _metrics_hook():
    from mmengine.hooks import Hook

    class ValMetricsCapture(Hook):
        """Keeps the metrics of the last validation and how many instances
        a detector predicted in it."""
        priority = 'LOWEST'

        def __init__(self):
            self.metrics: Optional[dict] = None
            self.instances = 0

        def before_val_epoch(self, runner):
            self.instances = 0

        def after_val_iter(self, runner, batch_idx, data_batch=None,
                           outputs=None):
            for sample in outputs or ():
                if 'pred_instances' in sample:
                    self.instances += len(sample.pred_instances)

        def after_val_epoch(self, runner, metrics=None):
            self.metrics = dict(metrics or {})

    return ValMetricsCapture()


def _latest_figures(log_dir: str) -> Dict[str, str]:
    """Newest PNG per image name the visualizer wrote (``<name>_<step>``)."""
    latest: Dict[str, tuple] = {}
    for path in glob.glob(osp.join(log_dir, 'vis_data', 'vis_image',
                                   '*.png')):
        stem = osp.splitext(osp.basename(path))[0]
        name, _, step = stem.rpartition('_')
        if step.isdigit() and (name not in latest
                               or int(step) > latest[name][0]):
            latest[name] = (int(step), path)
    return {name: path for name, (_, path) in latest.items()}


def release_dataloader_workers(runner) -> None:
    """Stop the persistent workers of the runner's dataloaders now.

    Left to garbage collection, each persistent worker pool takes torch's
    join timeout (5 s) to go away, which the next run in this process would
    wait for.
    """
    for name in ('_train_loop', '_val_loop', '_test_loop'):
        loader = getattr(getattr(runner, name, None), 'dataloader', None)
        iterator = getattr(loader, '_iterator', None)
        if iterator is not None and hasattr(iterator, '_shutdown_workers'):
            iterator._shutdown_workers()


def run_one(task_name: str, init: str, seed: int, args,
            checkpoints: Dict[str, str]) -> dict:
    """Train one run and return its result record."""
    from mmengine.runner import Runner

    task = TASKS[task_name]
    budget = budget_of(args.quick)
    work_dir = osp.join(args.work_dir, f'{task.name}_{init}')
    if len(seeds_of(task, budget)) > 1:
        work_dir += f'_seed{seed}'
    cfg = build_run_config(task, init, args.data_root, work_dir,
                           checkpoints.get(init), budget, seed, args.threads)
    runner = Runner.from_cfg(cfg)
    capture = _metrics_hook()
    runner.register_hook(capture)
    start = time.perf_counter()
    try:
        runner.train()
    finally:
        release_dataloader_workers(runner)
    elapsed = time.perf_counter() - start
    record = dict(train_time_s=round(elapsed, 1), work_dir=work_dir,
                  seed=seed)
    if task.name == 'pretrain':
        record['checkpoint'] = last_checkpoint(work_dir)
        hub = runner.message_hub
        for key in ('loss_rec', 'loss_nce', 'nce_acc', 'knn_top1'):
            if f'train/{key}' in hub.log_scalars:
                record[key] = float(hub.get_scalar(f'train/{key}').current())
        record['figures'] = _latest_figures(runner.log_dir)
        if not record['figures']:
            raise RuntimeError(f'pretrain {init}: ReconstructionVisHook '
                               f'wrote no figure under {runner.log_dir}')
        shown = ', '.join(f'{k} {record[k]:.3f}'
                          for k in ('loss_rec', 'loss_nce', 'knn_top1')
                          if k in record)
        say(f'pretrain {init}: {runner.iter} iterations in {elapsed:.0f} s '
            f'({shown}); checkpoint {record["checkpoint"]}')
        return record
    metrics = capture.metrics
    what = f'{task.name} from {init} (seed {seed})'
    if metrics is None:
        raise RuntimeError(f'{what}: no validation ran '
                           '(check train_cfg.val_interval)')
    if not metrics and task.library == 'mmdet' and capture.instances == 0:
        # CocoMetric returns nothing when no box passes the score threshold:
        # no detection at all is an AP of 0, not a missing result
        say(f'{what}: no detection above the score threshold; AP 0')
        metrics = {name: 0.0 for _, name, _ in task.metrics}
        record['no_detections'] = True
    for key, name, scale in task.metrics:
        if name not in metrics:
            raise KeyError(f'{what}: validation gave {sorted(metrics)}, '
                           f'not {name}')
        value = float(metrics[name]) * scale
        if not math.isfinite(value):
            raise ValueError(f'{what}: {name} is {value}')
        record[key] = round(value, 2)
    shown = ', '.join(f'{key} {record[key]:.1f}'
                      for key, _, _ in task.metrics)
    say(f'{what}: {shown} ({elapsed:.0f} s)')
    return record


def run_task(task_name: str, init: str, args,
             checkpoints: Dict[str, str]) -> dict:
    """Every seed of one task from one initialisation: the per-seed
    records under ``runs`` and each metric as a list over the seeds."""
    task = TASKS[task_name]
    budget = budget_of(args.quick)
    seeds = seeds_of(task, budget)
    runs = [run_one(task_name, init, seed, args, checkpoints)
            for seed in seeds]
    if task.name == 'pretrain':
        return runs[0]
    result = dict(runs=runs, seeds=list(seeds))
    for key, _, _ in task.metrics:
        result[key] = [run[key] for run in runs]
    return result


def run_probes(library: str, init: str, args,
               checkpoints: Dict[str, str]) -> dict:
    """The frozen-feature probes of ``library`` from one initialisation.

    Returns:
        dict: ``<probe>_knn``, ``<probe>_linear`` (floats) and
        ``<probe>_linear_few`` (one value per seed) of every probe.
    """
    from mmengine.registry import MODELS, init_default_scope
    from mmengine.runner import Runner

    budget = budget_of(args.quick)
    seeds = budget_seeds(budget)
    config, overrides = PROBE_CONFIGS[library]
    cfg = load_demo_config(config, args.data_root, overrides)
    set_init(cfg, f'{library} probes', init, checkpoints.get(init))
    init_default_scope(cfg.default_scope)
    start = time.perf_counter()
    model = MODELS.build(cfg.model)
    model.init_weights()
    scores = {}
    for probe in PROBES[library]:
        splits = []
        for ann in (probe.train_ann, probe.val_ann):
            loader = copy.deepcopy(cfg.val_dataloader)
            loader.num_workers = 0
            loader.persistent_workers = False
            # the config's data_root / data_prefix still place the files
            loader.dataset.ann_file = osp.abspath(
                osp.join(args.data_root, ann))
            splits.append(
                extract_features(
                    model,
                    Runner.build_dataloader(loader),
                    per_frame=probe.per_frame,
                    max_samples=budget.probe_samples))
        for key, value in probe_scores(splits[0], splits[1],
                                       probe.few_per_class, seeds).items():
            scores[f'{probe.name}_{key}'] = value
        few = seeded(scores[f'{probe.name}_linear_few'])
        say(f'probe {probe.name} from {init}: '
            f'kNN {scores[probe.name + "_knn"]:.1f}, linear '
            f'{scores[probe.name + "_linear"]:.1f}, linear with '
            f'{probe.few_per_class} labels/class {few["mean"]:.1f} ± '
            f'{few["sd"]:.1f} ({len(seeds)} seeds; '
            f'{len(splits[0][1])} train / {len(splits[1][1])} val)')
    scores['probe_time_s'] = round(time.perf_counter() - start, 1)
    return scores


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description='Run one demo stage.')
    p.add_argument('stage', choices=sorted(STAGES))
    p.add_argument('--data-root', required=True)
    p.add_argument('--work-dir', required=True)
    p.add_argument('--results', required=True, help='result JSON to write')
    p.add_argument(
        '--checkpoint',
        action='append',
        default=[],
        metavar='INIT=PATH',
        help='pretraining checkpoint of an initialisation (vicmae, mae)')
    p.add_argument(
        '--quick', action='store_true', help='a few iterations per run')
    p.add_argument(
        '--threads',
        type=int,
        help='torch threads of this process (default: torch\'s); with 1, '
        'dataloaders load in the main process')
    return p.parse_args(argv)


def main(argv=None) -> None:
    args = parse_args(argv)
    checkpoints = {}
    for item in args.checkpoint:
        init, sep, path = item.partition('=')
        if not sep:
            raise SystemExit(f'--checkpoint expects INIT=PATH, got {item!r}')
        checkpoints[init] = path
    import vicmae_mm  # noqa: F401  (registers everything)
    from cpu_runtime import configure_cpu_runtime

    # the settings tools/train.py and the benchmarks run with
    say('cpu runtime: ' + ', '.join(
        f'{k} {v}'
        for k, v in configure_cpu_runtime(threads=args.threads).items()))
    stage = STAGES[args.stage]
    results: Dict[str, Dict[str, dict]] = {}
    if stage.library is not None:
        for init in stage.inits:
            results.setdefault('probes', {})[init] = run_probes(
                stage.library, init, args, checkpoints)
    for task_name in stage.tasks:
        for init in stage.inits:
            results.setdefault(task_name, {})[init] = run_task(
                task_name, init, args, checkpoints)
    write_json(args.results, results)


if __name__ == '__main__':
    main()
