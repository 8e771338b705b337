# Copyright (c) vicmae_mm contributors. All rights reserved.
"""Run one stage of the demo in this process (``run_demo.py`` starts one
process per stage, so each library's registries and default scope stay
apart).

    python tools/demo/run_stage.py mmpretrain --data-root D --work-dir W \
        --checkpoint vicmae=W/pretrain_vicmae/iter_1000.pth \
        --checkpoint mae=W/pretrain_mae/iter_1000.pth --results R.json

Every run is a real mmengine ``Runner`` (``train()``, validation at the
end); the stage's results (metrics, times, checkpoint and figure paths) go
to ``--results`` as JSON. Lines starting with ``[demo]`` report progress.
Any failure raises, so the process exits non-zero.
"""
import argparse
import glob
import math
import os.path as osp
import sys
import time
from typing import Dict, Optional

sys.path.insert(0, osp.dirname(osp.abspath(__file__)))

from demo_stages import (FULL_BUDGET, QUICK_BUDGET, STAGES,  # noqa: E402
                         TASKS, build_run_config, last_checkpoint, say,
                         write_json)


def _metrics_hook():
    from mmengine.hooks import Hook

    class ValMetricsCapture(Hook):
        """Keeps the metrics of the last validation."""
        priority = 'LOWEST'

        def __init__(self):
            self.metrics: Optional[dict] = None

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


def run_one(task_name: str, init: str, args, checkpoints: Dict[str, str]):
    """Train one run and return its result record."""
    from mmengine.runner import Runner

    task = TASKS[task_name]
    budget = QUICK_BUDGET if args.quick else FULL_BUDGET
    work_dir = osp.join(args.work_dir, f'{task.name}_{init}')
    cfg = build_run_config(task, init, args.data_root, work_dir,
                           checkpoints.get(init), budget)
    runner = Runner.from_cfg(cfg)
    capture = _metrics_hook()
    runner.register_hook(capture)
    start = time.perf_counter()
    try:
        runner.train()
    finally:
        release_dataloader_workers(runner)
    elapsed = time.perf_counter() - start
    record = dict(train_time_s=round(elapsed, 1), work_dir=work_dir)
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
    if metrics is None:
        raise RuntimeError(f'{task.name} from {init}: no validation ran '
                           '(check train_cfg.val_interval)')
    for key, name, scale in task.metrics:
        if name not in metrics:
            raise KeyError(f'{task.name} from {init}: validation gave '
                           f'{sorted(metrics)}, not {name}')
        value = float(metrics[name]) * scale
        if not math.isfinite(value):
            raise ValueError(f'{task.name} from {init}: {name} is {value}')
        record[key] = round(value, 2)
    shown = ', '.join(f'{key} {record[key]:.1f}'
                      for key, _, _ in task.metrics)
    say(f'{task.name} from {init}: {shown} ({elapsed:.0f} s)')
    return record


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
    from vicmae_mm.utils.cpu_runtime import configure_cpu_runtime

    # the settings tools/train.py and the benchmarks run with
    say('cpu runtime: ' + ', '.join(
        f'{k} {v}' for k, v in configure_cpu_runtime().items()))
    _, tasks, inits = STAGES[args.stage]
    results: Dict[str, Dict[str, dict]] = {}
    for task_name in tasks:
        for init in inits:
            results.setdefault(task_name, {})[init] = run_one(
                task_name, init, args, checkpoints)
    write_json(args.results, results)


if __name__ == '__main__':
    main()
