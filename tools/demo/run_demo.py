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
   budget (``configs/vicmae/demo/``): frozen-feature kNN and linear probes
   (mmpretrain's model on the digit images, mmaction2's on the direction
   of motion of moving-digit clips, with every label and with a few labels
   per class), mmpretrain fine-tuning on the digit images, mmaction2
   fine-tuning on the direction from 10 clips per class, mmdet Mask R-CNN
   box and mask AP from 50 train images; the seeded ones over three seeds;
4. writes ``summary.md`` / ``summary.json`` and copies the reconstruction
   figures to ``<work-dir>/figures/``.

Each stage runs in its own process (``run_stage.py``) with real mmengine
Runners, ``--jobs`` of them at once; its full log is
``<work-dir>/logs/<stage>.log``. A failing stage
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
import threading
import time
from collections import deque
from typing import Dict, List

HERE = osp.dirname(osp.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, osp.join(osp.dirname(HERE), 'data', 'demo'))

from demo_stages import (INITS, REPO_ROOT, STAGES, budget_of,  # noqa: E402
                         budget_seeds, data_spec_kwargs, read_json, say,
                         write_json)
from demo_summary import markdown_table, spec_dict, summary_rows  # noqa: E402

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


class StageRunner:
    """Runs demo stages as subprocesses, several at once.

    Args:
        args: The demo's arguments (``jobs``, ``threads``...).
        results_dir (str): Where each stage writes ``<stage>.json``.
        logs_dir (str): Where each stage's full log goes.
    """

    def __init__(self, args, results_dir: str, logs_dir: str) -> None:
        self.args = args
        self.results_dir = results_dir
        self.logs_dir = logs_dir
        self._procs: Dict[str, subprocess.Popen] = {}
        self._lock = threading.Lock()
        self._stopping = False

    def run(self, stage: str, checkpoints: Dict[str, str]) -> dict:
        """Run one stage in a subprocess (blocking); returns its results.

        Raises:
            DemoError: If the stage fails, naming it and its log.
        """
        args = self.args
        results_file = osp.join(self.results_dir, f'{stage}.json')
        if osp.exists(results_file):
            os.remove(results_file)
        log_file = osp.join(self.logs_dir, f'{stage}.log')
        cmd = [
            sys.executable,
            osp.join(HERE, 'run_stage.py'), stage, '--data-root',
            args.data_root, '--work-dir', args.work_dir, '--results',
            results_file, '--threads',
            str(args.threads)
        ]
        for init, path in checkpoints.items():
            cmd += ['--checkpoint', f'{init}={path}']
        if args.quick:
            cmd.append('--quick')
        env = dict(os.environ, PYTHONUNBUFFERED='1')
        env['PYTHONPATH'] = os.pathsep.join(
            p for p in (REPO_ROOT, env.get('PYTHONPATH')) if p)
        # threads of the libraries torch does not set itself
        for var in ('OMP_NUM_THREADS', 'MKL_NUM_THREADS'):
            env[var] = str(args.threads)
        tail = deque(maxlen=40)
        start = time.perf_counter()
        shown = _RESULT if args.silent else _SHOWN
        with open(log_file, 'w', encoding='utf-8') as log:
            with self._lock:
                if self._stopping:
                    raise DemoError(f'stage "{stage}" not started: another '
                                    'stage failed')
                proc = subprocess.Popen(
                    cmd,
                    cwd=REPO_ROOT,
                    env=env,
                    stdout=subprocess.PIPE,
                    stderr=subprocess.STDOUT,
                    text=True,
                    errors='replace')
                self._procs[stage] = proc
            for line in proc.stdout:
                log.write(line)
                tail.append(line.rstrip('\n'))
                if shown.search(line):
                    print(f'    {stage}: {line.rstrip()}', flush=True)
            code = proc.wait()
        elapsed = time.perf_counter() - start
        if code != 0 or not osp.isfile(results_file):
            with self._lock:
                stopped = self._stopping
            if not stopped:
                print('\n'.join(f'    | {line}' for line in tail),
                      file=sys.stderr)
            raise DemoError(
                f'stage "{stage}" failed (exit code {code}) after '
                f'{elapsed:.0f} s; full log: {log_file}')
        say(f'stage {stage} done in {elapsed:.0f} s')
        results = read_json(results_file)
        results['_stage_time_s'] = round(elapsed, 1)
        return results

    def run_all(self, stages: List[str],
                checkpoints: Dict[str, str]) -> Dict[str, dict]:
        """Run ``stages``, ``args.jobs`` at a time, in the order given;
        on the first failure stop the others and raise it."""
        from concurrent.futures import (FIRST_EXCEPTION, ThreadPoolExecutor,
                                        wait)
        for stage in stages:
            kind, names = STAGES[stage].kind, STAGES[stage].tasks
            say(f'stage {stage}: ' + (
                'pretraining' if kind == 'pretrain' else
                f'{", ".join(names)}' +
                (' + frozen probes' if STAGES[stage].library else '') +
                f' from {", ".join(INITS[i] for i in STAGES[stage].inits)}'))
        with ThreadPoolExecutor(self.args.jobs) as pool:
            futures = {
                pool.submit(self.run, stage, checkpoints): stage
                for stage in stages
            }
            done, _ = wait(futures, return_when=FIRST_EXCEPTION)
            failed = [f for f in done if f.exception() is not None]
            if failed:
                with self._lock:
                    self._stopping = True
                    for proc in self._procs.values():
                        if proc.poll() is None:
                            proc.terminate()
                raise failed[0].exception()
            return {futures[f]: f.result() for f in futures}


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
        jobs=args.jobs,
        threads_per_stage=args.threads,
        load_average_start=timing['load_start'],
        load_average_end=load_average(),
        platform=platform.platform(),
        python=platform.python_version())
    try:
        import torch

        from vicmae_mm.models.utils.cpu_kernels import cpu_description
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
    stages = ', '.join(f'{k} {v:.0f} s' for k, v in timing['stages'].items())
    seeds = budget_seeds(budget_of(args.quick))
    md = [
        '# vicmae_mm demo summary', '',
        f'Budget: {summary["budget"]}; the same for every initialisation. '
        f'Total time {timing["total_s"]:.0f} s on {machine["cpu_count"]} '
        f'CPU cores ({machine.get("cpu", platform.processor())}), '
        f'{args.jobs} stage(s) at a time with {args.threads} thread(s) '
        f'each (stage times: {stages}); load average '
        f'{machine["load_average_start"]} at start, '
        f'{machine["load_average_end"]} at the end.', '', table, '',
        'a ± b: mean and sample standard deviation over seeds '
        f'{", ".join(str(s) for s in seeds)} (few-label subsets drawn by the '
        'seed; downstream runs seeded with it); other values come from one '
        'deterministic run. "frozen": kNN (k = 20, cosine) or logistic '
        'regression on the frozen encoder\'s features (mean of the patch '
        'tokens; for clips the per-time-step means, concatenated). '
        'Fine-tunes (backbone trained): mmpretrain on the digit images, '
        'mmaction2 on the direction of motion of 10 clips per class; box '
        'and mask AP: mmdet Mask R-CNN from 50 train images (CocoMetric, '
        'AP@[.5:.95] x 100). kNN monitor: KNNMonitorHook at the end of '
        'pretraining.', '',
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
        '--jobs',
        type=int,
        help='stages run at once (default: min(2, CPU cores): two '
        'one-thread processes keep both cores of a small machine busy where '
        'one two-thread process of this tiny model does not)')
    p.add_argument(
        '--threads',
        type=int,
        help='torch threads per stage (default: cores / jobs)')
    p.add_argument(
        '--silent',
        action='store_true',
        help='show only the demo\'s own lines (stages and results), not '
        'the training logs')
    return p.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    cores = os.cpu_count() or 1
    if args.jobs is None:
        args.jobs = max(1, min(2, cores))
    if args.threads is None:
        args.threads = max(1, cores // args.jobs)
    if args.jobs < 1 or args.threads < 1:
        raise SystemExit(f'--jobs and --threads must be >= 1, got '
                         f'{args.jobs} and {args.threads}')
    args.work_dir = osp.abspath(args.work_dir)
    args.data_root = osp.abspath(args.data_root
                                 or osp.join(args.work_dir, 'data'))
    results_dir = osp.join(args.work_dir, 'results')
    logs_dir = osp.join(args.work_dir, 'logs')
    for d in (results_dir, logs_dir):
        os.makedirs(d, exist_ok=True)
    timing = dict(load_start=load_average(), stages={})
    start = time.perf_counter()
    say(f'work dir {args.work_dir}; {cores} CPU cores, load average '
        f'{timing["load_start"]}; {args.jobs} stage(s) at a time, '
        f'{args.threads} thread(s) each')
    try:
        t0 = time.perf_counter()
        meta = prepare_data(args.data_root, args.seed, args.quick)
        timing['stages']['data'] = round(time.perf_counter() - t0, 1)
        results: Dict[str, dict] = {}
        checkpoints: Dict[str, str] = {}
        runner = StageRunner(args, results_dir, logs_dir)
        for kind in ('pretrain', 'downstream'):
            stages = [s for s in STAGES if STAGES[s].kind == kind]
            for stage, out in runner.run_all(stages, checkpoints).items():
                timing['stages'][stage] = out.pop('_stage_time_s')
                for task, by_init in out.items():
                    merged = results.setdefault(task, {})
                    for init, record in by_init.items():
                        # probes of several stages: one record per init
                        merged.setdefault(init, {}).update(record)
            if kind == 'pretrain':
                checkpoints = {
                    init: record['checkpoint']
                    for init, record in results['pretrain'].items()
                }
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
