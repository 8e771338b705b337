# Copyright (c) vicmae_mm contributors. All rights reserved.
"""The vicmae_mm demo: from nothing to pretraining and three downstream
results, on a laptop CPU (``make demo``; docs/get_started.md).

    python tools/demo/run_demo.py --work-dir work_dirs/demo

1. generates the embedded demo data (scikit-learn's bundled digits: moving
   digit videos, digit images, a COCO-format detection set) into
   ``<work-dir>/data`` unless the same data is already there;
2. pretrains ViC-MAE on video frame pairs + digit images
   (``configs/vicmae/pretrain_demo.py``), with reconstruction figures and a
   kNN monitor, and MAE-only (``loss_weights.nce = 0``) with the same
   budget;
3. from each checkpoint and from random initialisation, with the same
   budget: mmpretrain linear probe and fine-tuning on digit images,
   mmaction2 direction-of-motion classification, mmdet Mask R-CNN box and
   mask AP (``configs/vicmae/demo/``);
4. writes ``summary.md`` / ``summary.json`` and copies the reconstruction
   figures to ``<work-dir>/figures/``.

Each stage runs in its own process (``run_stage.py``) with real mmengine
Runners; its full log is ``<work-dir>/logs/<stage>.log``. A failing stage
stops the demo with a non-zero exit and the end of its log.
"""
import argparse
import os
import os.path as osp
import platform
import re
import shutil
import subprocess
import sys
import time
from collections import deque
from typing import Dict, List

HERE = osp.dirname(osp.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, osp.join(osp.dirname(HERE), 'data', 'demo'))

from demo_stages import (INITS, REPO_ROOT, STAGES, data_spec_kwargs,  # noqa
                         markdown_table, read_json, say, spec_dict,
                         summary_rows, write_json)

# subprocess lines shown on the console (all of them go to the stage log)
_SHOWN = re.compile(r'^\[demo\]|Iter\(train\)|KNNMonitorHook: iter|'
                    r'ReconstructionVisHook: drew|Traceback|Error')
_RESULT = re.compile(r'^\[demo\]')


class DemoError(RuntimeError):
    """A demo stage failed; the message names it."""


def load_average() -> str:
    try:
        return ', '.join(f'{v:.2f}' for v in os.getloadavg())
    except OSError:  # not available on this platform
        return 'n/a'


def prepare_data(data_root: str, seed: int, quick: bool) -> dict:
    """Generate the demo data unless ``data_root`` already holds the same.

    Returns:
        dict: The data set's ``meta.json``.
    """
    from generate_demo_data import DemoDataSpec, generate
    spec = DemoDataSpec(seed=seed, **data_spec_kwargs(quick))
    meta_file = osp.join(data_root, 'meta.json')
    if osp.isfile(meta_file):
        meta = read_json(meta_file)
        if meta.get('spec') == spec_dict(spec):
            say(f'data: {data_root} already holds this demo data '
                f'(seed {seed}); reusing it')
            return meta
        say(f'data: {data_root} holds demo data with other options; '
            'regenerating')
    start = time.perf_counter()
    generate(data_root, spec, overwrite=osp.isdir(data_root))
    # as it reads back (lists, not tuples), so a reuse compares equal
    meta = read_json(meta_file)
    c = meta['counts']
    say(f'data: generated in {time.perf_counter() - start:.1f} s into '
        f'{data_root}: {c["images"]["train"]}/{c["images"]["val"]} digit '
        f'images, {c["videos"]["train"]}/{c["videos"]["val"]} direction '
        f'clips + {c["videos"]["pretrain"]} pretraining clips, '
        f'{c["coco"]["train_images"]}/{c["coco"]["val_images"]} COCO '
        'images (train/val)')
    return meta


def run_stage(stage: str, args, results_dir: str, logs_dir: str,
              checkpoints: Dict[str, str]) -> dict:
    """Run one stage in a subprocess; returns its results."""
    results_file = osp.join(results_dir, f'{stage}.json')
    if osp.exists(results_file):
        os.remove(results_file)
    log_file = osp.join(logs_dir, f'{stage}.log')
    cmd = [
        sys.executable,
        osp.join(HERE, 'run_stage.py'), stage, '--data-root',
        args.data_root, '--work-dir', args.work_dir, '--results',
        results_file
    ]
    for init, path in checkpoints.items():
        cmd += ['--checkpoint', f'{init}={path}']
    if args.quick:
        cmd.append('--quick')
    env = dict(os.environ, PYTHONUNBUFFERED='1')
    env['PYTHONPATH'] = os.pathsep.join(
        p for p in (REPO_ROOT, env.get('PYTHONPATH')) if p)
    tail = deque(maxlen=40)
    start = time.perf_counter()
    with open(log_file, 'w', encoding='utf-8') as log:
        proc = subprocess.Popen(
            cmd,
            cwd=REPO_ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            errors='replace')
        for line in proc.stdout:
            log.write(line)
            tail.append(line.rstrip('\n'))
            shown = _RESULT if args.silent else _SHOWN
            if shown.search(line):
                print(f'    {stage}: {line.rstrip()}', flush=True)
        code = proc.wait()
    elapsed = time.perf_counter() - start
    if code != 0 or not osp.isfile(results_file):
        print('\n'.join(f'    | {line}' for line in tail), file=sys.stderr)
        raise DemoError(
            f'stage "{stage}" failed (exit code {code}) after '
            f'{elapsed:.0f} s; full log: {log_file}')
    say(f'stage {stage} done in {elapsed:.0f} s')
    results = read_json(results_file)
    results['_stage_time_s'] = round(elapsed, 1)
    return results


def copy_figures(results: Dict[str, dict], figures_dir: str) -> List[str]:
    """Copy the last reconstruction grids of each pretraining run."""
    os.makedirs(figures_dir, exist_ok=True)
    copied = []
    for init, record in sorted(results.get('pretrain', {}).items()):
        for name, path in sorted(record.get('figures', {}).items()):
            target = osp.join(figures_dir, f'{init}_{name}.png')
            shutil.copyfile(path, target)
            copied.append(target)
    return copied


def write_summary(work_dir: str, rows: List[dict], results: dict,
                  meta: dict, timing: dict, figures: List[str],
                  args) -> str:
    """Write summary.md and summary.json; returns the markdown table."""
    table = markdown_table(rows)
    machine = dict(
        cpu_count=os.cpu_count(),
        load_average_start=timing['load_start'],
        load_average_end=load_average(),
        platform=platform.platform(),
        python=platform.python_version())
    try:
        import torch

        from vicmae_mm.utils.cpu_runtime import cpu_description
        machine['cpu'] = cpu_description()
        machine['torch'] = torch.__version__
        machine['torch_threads'] = torch.get_num_threads()
    except ImportError:  # pragma: no cover - the demo needs torch anyway
        pass
    summary = dict(
        rows=rows,
        columns=list(rows[0].keys()) if rows else [],
        total_time_s=timing['total_s'],
        stage_times_s=timing['stages'],
        budget='quick' if args.quick else 'full',
        data=dict(
            root=args.data_root,
            spec=meta['spec'],
            counts=meta['counts']),
        machine=machine,
        figures=[osp.relpath(f, work_dir) for f in figures],
        runs=results)
    write_json(osp.join(work_dir, 'summary.json'), summary)
    rel = [osp.relpath(f, work_dir) for f in figures]
    md = [
        '# vicmae_mm demo summary', '',
        f'Budget: {summary["budget"]}; the same for every initialisation. '
        f'Total time {timing["total_s"]:.0f} s '
        f'({", ".join(f"{k} {v:.0f} s" for k, v in timing["stages"].items())})'
        f' on {machine["cpu_count"]} CPU cores '
        f'({machine.get("cpu", platform.processor())}), load average '
        f'{machine["load_average_start"]} at start, '
        f'{machine["load_average_end"]} at the end.', '', table, '',
        'Linear probe and fine-tune: mmpretrain on the digit images; video: '
        'mmaction2 on the direction of motion of moving-digit clips; box '
        'and mask AP: mmdet Mask R-CNN (CocoMetric, AP@[.5:.95] x 100). '
        'kNN: KNNMonitorHook at the end of pretraining.', '',
        '## Reconstruction figures (original / masked / reconstruction)', ''
    ] + [f'![{r}]({r})' for r in rel] + ['']
    with open(osp.join(work_dir, 'summary.md'), 'w', encoding='utf-8') as f:
        f.write('\n'.join(md))
    return table


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        description='vicmae_mm demo: pretrain ViC-MAE on CPU, then '
        'mmpretrain / mmaction2 / mmdet from the same checkpoint.')
    p.add_argument('--work-dir', default='work_dirs/demo')
    p.add_argument(
        '--data-root',
        help='where the demo data is (generated if absent); default '
        '<work-dir>/data')
    p.add_argument('--seed', type=int, default=0, help='data seed')
    p.add_argument(
        '--quick',
        action='store_true',
        help='tiny data and a few iterations per run (a smoke run for '
        'tests; the numbers mean nothing)')
    p.add_argument(
        '--silent',
        action='store_true',
        help='show only the demo\'s own lines (stages and results), not '
        'the training logs')
    return p.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    args.work_dir = osp.abspath(args.work_dir)
    args.data_root = osp.abspath(args.data_root
                                 or osp.join(args.work_dir, 'data'))
    results_dir = osp.join(args.work_dir, 'results')
    logs_dir = osp.join(args.work_dir, 'logs')
    for d in (results_dir, logs_dir):
        os.makedirs(d, exist_ok=True)
    timing = dict(load_start=load_average(), stages={})
    start = time.perf_counter()
    say(f'work dir {args.work_dir}; {os.cpu_count()} CPU cores, load '
        f'average {timing["load_start"]}')
    try:
        t0 = time.perf_counter()
        meta = prepare_data(args.data_root, args.seed, args.quick)
        timing['stages']['data'] = round(time.perf_counter() - t0, 1)
        results: Dict[str, dict] = {}
        checkpoints: Dict[str, str] = {}
        for stage in STAGES:
            kind = STAGES[stage][0]
            say(f'stage {stage}: ' + (
                'pretraining' if kind == 'pretrain' else
                f'{", ".join(STAGES[stage][1])} from '
                f'{", ".join(INITS[i] for i in STAGES[stage][2])}'))
            out = run_stage(stage, args, results_dir, logs_dir,
                            checkpoints if kind == 'downstream' else {})
            timing['stages'][stage] = out.pop('_stage_time_s')
            for task, by_init in out.items():
                results.setdefault(task, {}).update(by_init)
            if kind == 'pretrain':
                for init, record in out['pretrain'].items():
                    checkpoints[init] = record['checkpoint']
        figures = copy_figures(results, osp.join(args.work_dir, 'figures'))
        rows = summary_rows(results)
        timing['total_s'] = round(time.perf_counter() - start, 1)
        table = write_summary(args.work_dir, rows, results, meta, timing,
                              figures, args)
    except DemoError as err:
        say(f'FAILED: {err}')
        return 1
    except Exception as err:  # data generation, summary: name the step
        say(f'FAILED: {type(err).__name__}: {err}')
        return 1
    say(f'done in {timing["total_s"]:.0f} s; summary: '
        f'{osp.join(args.work_dir, "summary.md")}, figures: '
        f'{osp.join(args.work_dir, "figures")}')
    print()
    print(table, flush=True)
    return 0


if __name__ == '__main__':
    sys.exit(main())
