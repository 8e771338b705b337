# Copyright (c) vicmae_mm contributors. All rights reserved.
"""Measure ViC-MAE pretraining speed, FLOP/s and memory on CPU or CUDA.

Runs training steps (synthetic uint8 view pairs -> data preprocessor ->
loss -> backward -> optimizer) of any pretraining config and prints, per
variant:

- pairs/s and the split of the step time (data, forward, backward,
  optimizer; medians over all timed steps);
- achieved FLOP/s from the exact analytic FLOP count
  (:mod:`vicmae_mm.analysis.flops`) and its fraction of the dense matmul
  peak **measured in the same run** (fp32: the best of ``torch.mm`` and
  oneDNN on 4096^2; bf16/fp16: ``torch.mm``);
- with ``--memory``, peak memory (CPU: resident set size sampled every
  millisecond in a fresh process per variant; CUDA: the allocator's peak);
- the first-step losses of every variant on the same batch and masks.

Variants are timed interleaved (``--repeats`` rounds of ``--steps`` steps
each), so ratios between them hold under a shared, noisy machine:

- ``ours``: the model as configured (with ``--amp``: autocast in
  ``--dtype``, through ``CPUAmpOptimWrapper`` on CPU);
- ``ours-fp32`` (``--amp --compare-fp32``): the same in fp32;
- ``reference`` (``--reference``): the plain implementation of the same
  objective (:mod:`vicmae_mm.analysis.reference_vicmae`, fp32);
- ``ours-ckpt`` (``--checkpoint-activations``): ours with every encoder
  and decoder block checkpointed;
- ``ours-compiled`` (``--compile``): ``torch.compile`` of ours.

Example (the figures in docs/benchmarks/pretraining_speed.md)::

    python tools/analysis/benchmark_pretrain.py configs/vicmae/pretrain_vitb.py \
        --batch 4 --threads 2 --reference --repeats 3 --steps 2
"""
import argparse
import ctypes
import json
import os
import os.path as osp
import statistics
import subprocess
import sys
import threading
import time
from contextlib import contextmanager
from typing import Callable, Dict, List, Optional

import torch

SPLITS = ('data', 'forward', 'backward', 'optimizer')


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description='Benchmark ViC-MAE pretraining steps')
    parser.add_argument('config', help='pretraining config file')
    parser.add_argument(
        '--batch', type=int, default=4, help='view pairs per step')
    parser.add_argument(
        '--img-size', type=int, help='input size (default: the config\'s)')
    parser.add_argument(
        '--steps', type=int, default=2, help='timed steps per round')
    parser.add_argument(
        '--repeats',
        type=int,
        default=3,
        help='rounds; every variant runs --steps steps in each round')
    parser.add_argument(
        '--warmup', type=int, default=1, help='untimed steps per variant')
    parser.add_argument('--device', default='cpu', choices=['cpu', 'cuda'])
    parser.add_argument(
        '--threads', type=int, help='torch.set_num_threads (CPU)')
    parser.add_argument(
        '--amp', action='store_true', help='mixed precision for "ours"')
    parser.add_argument(
        '--dtype',
        default='bfloat16',
        choices=['bfloat16', 'float16'],
        help='autocast dtype with --amp')
    parser.add_argument(
        '--compare-fp32',
        action='store_true',
        help='with --amp, also time ours in fp32 (variant ours-fp32)')
    parser.add_argument(
        '--reference',
        action='store_true',
        help='also time the plain reference implementation (fp32)')
    parser.add_argument(
        '--compile',
        action='store_true',
        help='also time torch.compile of ours (variant ours-compiled)')
    parser.add_argument(
        '--checkpoint-activations',
        action='store_true',
        help='also time ours with every block checkpointed (ours-ckpt)')
    parser.add_argument(
        '--memory',
        action='store_true',
        help='peak tensor memory of a step of every variant (PyTorch '
        'profiler memory timeline; CUDA: allocator peak)')
    parser.add_argument(
        '--rss',
        action='store_true',
        help='also peak RSS of a step of every variant, each in a fresh '
        'process (CPU)')
    parser.add_argument(
        '--profile',
        action='store_true',
        help='print the torch.profiler table of one step of "ours"')
    parser.add_argument(
        '--peak-size',
        type=int,
        default=4096,
        help='square matmul size for the peak measurement')
    parser.add_argument(
        '--no-malloc-tuning',
        action='store_true',
        help='keep glibc\'s default trimming (see keep_freed_memory_in_'
        'process in vicmae_mm/utils/runner_setup.py)')
    parser.add_argument('--json', help='also write the results here')
    parser.add_argument(
        '--cfg-options',
        nargs='+',
        default=[],
        help='config overrides, key=value (mmengine DictAction syntax)')
    parser.add_argument('--memory-child', help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    args.argv = list(sys.argv[1:] if argv is None else argv)
    for name in ('batch', 'steps', 'repeats'):
        if getattr(args, name) < 1:
            parser.error(f'--{name} must be >= 1')
    if args.compare_fp32 and not args.amp:
        parser.error('--compare-fp32 needs --amp')
    return args


# --------------------------------------------------------------------------
# model, data, optimizer
# --------------------------------------------------------------------------
def load_config(args):
    from mmengine.config import Config, DictAction
    if not osp.isfile(args.config):
        raise FileNotFoundError(f'config not found: {args.config}')
    cfg = Config.fromfile(args.config)
    if args.cfg_options:
        action = DictAction(option_strings=[], dest='x')
        ns = argparse.Namespace()
        action(None, ns, args.cfg_options)
        cfg.merge_from_dict(ns.x)
    if 'model' not in cfg or 'optim_wrapper' not in cfg:
        raise ValueError(f'{args.config}: needs "model" and "optim_wrapper"')
    if args.img_size is not None:
        bb = cfg.model.backbone
        patch = bb.get('patch_size', 16)
        if args.img_size % patch:
            raise ValueError(f'--img-size {args.img_size} is not divisible '
                             f'by the patch size {patch}')
        bb.img_size = args.img_size
        cfg.model.neck.num_patches = (args.img_size // patch)**2
    return cfg


def build_model(cfg, device):
    from mmengine.registry import DefaultScope
    from mmpretrain.registry import MODELS
    with DefaultScope.overwrite_default_scope(
            cfg.get('default_scope', 'mmpretrain')):
        model = MODELS.build(cfg.model)
    model.init_weights()
    return model.to(device).train()


def build_wrappers(cfg, model, args) -> Dict[str, object]:
    """fp32 wrapper and (with --amp) the mixed-precision one, sharing one
    optimizer built from the config (AdamW, param-wise settings)."""
    from mmengine.optim import OptimWrapper, build_optim_wrapper
    from vicmae_mm.engine.optimizers import CPUAmpOptimWrapper
    optim_cfg = cfg.optim_wrapper.copy()
    for key in ('loss_scale', 'dtype', 'use_fsdp'):
        optim_cfg.pop(key, None)
    optim_cfg['type'] = 'OptimWrapper'
    fp32 = build_optim_wrapper(model, optim_cfg)
    wrappers = {'fp32': fp32}
    if args.amp:
        if args.device == 'cuda':
            from mmengine.optim import AmpOptimWrapper
            wrappers['amp'] = AmpOptimWrapper(
                optimizer=fp32.optimizer,
                dtype=args.dtype,
                loss_scale='dynamic' if args.dtype == 'float16' else 1.0)
        else:
            wrappers['amp'] = CPUAmpOptimWrapper(
                optimizer=fp32.optimizer, dtype=args.dtype)
    assert isinstance(fp32, OptimWrapper)
    return wrappers


class SyntheticPairs:
    """Endless batches of uint8 view pairs, as the collated dataloader
    yields them (``inputs=[view1, view2]``)."""

    def __init__(self, batch: int, size: int, pool: int = 4) -> None:
        g = torch.Generator().manual_seed(0)
        self.pool = [
            torch.randint(
                0, 256, (batch, 3, size, size), generator=g, dtype=torch.uint8)
            for _ in range(pool)
        ]
        self.i = 0

    def __next__(self) -> dict:
        self.i += 1
        views = [
            self.pool[self.i % len(self.pool)],
            self.pool[(self.i + 1) % len(self.pool)]
        ]
        return dict(inputs=views, data_samples=None)


# --------------------------------------------------------------------------
# variants
# --------------------------------------------------------------------------
def set_checkpointing(model, on: bool) -> None:
    """Checkpoint every block of the encoder (and of the decoder if it is a
    ``ViCMAEPretrainDecoder``) or none."""
    for part, blocks in ((model.backbone, 'layers'), (model.neck,
                                                      'decoder_blocks')):
        if hasattr(part, 'num_checkpointed'):
            part.num_checkpointed = len(getattr(part, blocks)) if on else 0


class Variant:
    """One way of computing the loss, and the optimizer wrapper it uses."""

    def __init__(self,
                 name: str,
                 loss_fn: Callable,
                 wrapper,
                 setup: Optional[Callable] = None,
                 teardown: Optional[Callable] = None) -> None:
        self.name = name
        self.loss_fn = loss_fn
        self.wrapper = wrapper
        self.setup = setup or (lambda: None)
        self.teardown = teardown or (lambda: None)

    @contextmanager
    def active(self):
        self.setup()
        try:
            yield
        finally:
            self.teardown()


def build_variants(model, wrappers, args, names=None) -> List[Variant]:
    from vicmae_mm.analysis.reference_vicmae import ReferenceViCMAE
    main = wrappers.get('amp', wrappers['fp32'])

    def ours(inputs, noise=None):
        return model.loss(inputs, mask_noise=noise)

    variants = [Variant('ours', ours, main)]
    if args.compare_fp32:
        variants.append(Variant('ours-fp32', ours, wrappers['fp32']))
    if args.reference:
        ref = ReferenceViCMAE(model)
        variants.append(Variant('reference', ref.loss, wrappers['fp32']))
    if args.checkpoint_activations:
        variants.append(
            Variant(
                'ours-ckpt',
                ours,
                main,
                setup=lambda: set_checkpointing(model, True),
                teardown=lambda: set_checkpointing(model, False)))
    if args.compile:
        compiled = torch.compile(model.loss)
        variants.append(
            Variant(
                'ours-compiled',
                lambda inputs, noise=None: compiled(inputs, mask_noise=noise),
                main))
    if names is not None:
        variants = [v for v in variants if v.name in names]
    return variants


# --------------------------------------------------------------------------
# measurement
# --------------------------------------------------------------------------
def sync(device: str) -> None:
    if device == 'cuda':
        torch.cuda.synchronize()


def train_step(model, variant: Variant, loader, device) -> Dict[str, float]:
    """One timed step; returns seconds per phase and the losses."""
    times = {}
    t0 = time.perf_counter()
    data = model.data_preprocessor(next(loader), True)
    sync(device)
    t1 = time.perf_counter()
    wrapper = variant.wrapper
    with wrapper.optim_context(model):
        losses = variant.loss_fn(data['inputs'])
    loss = sum(v for k, v in losses.items() if 'loss' in k)
    sync(device)
    t2 = time.perf_counter()
    wrapper.backward(loss)
    sync(device)
    t3 = time.perf_counter()
    wrapper.step()
    wrapper.zero_grad()
    sync(device)
    t4 = time.perf_counter()
    times.update(
        data=t1 - t0,
        forward=t2 - t1,
        backward=t3 - t2,
        optimizer=t4 - t3,
        total=t4 - t0)
    return times


def _timeit(fn: Callable, device: str, reps: int) -> float:
    fn()
    sync(device)
    best = []
    for _ in range(reps):
        t = time.perf_counter()
        fn()
        sync(device)
        best.append(time.perf_counter() - t)
    return statistics.median(best)


def matmul_peaks(device: str,
                 dtype: torch.dtype,
                 n: int,
                 reps: int = 3) -> Dict[str, float]:
    """Dense ``n x n x n`` matmul GFLOP/s by every available backend."""
    a = torch.randn(n, n, device=device).to(dtype)
    b = torch.randn(n, n, device=device).to(dtype)
    flops = 2 * n**3
    rates = {'torch.mm': flops / _timeit(lambda: a @ b, device, reps) / 1e9}
    if device == 'cpu' and dtype == torch.float32:
        from vicmae_mm.models.backbones.fast_vit_block import (onednn_available
                                                               )
        if onednn_available():
            bt = b.t()  # oneDNN computes a @ W.T; W = b.T is a free view
            rates['oneDNN'] = flops / _timeit(
                lambda: torch.ops.mkldnn._linear_pointwise(
                    a, bt, None, 'none', [], ''), device, reps) / 1e9
    return rates


class RSSSampler:
    """Peak resident set size of this process, sampled every millisecond."""

    def __init__(self) -> None:
        self.page = os.sysconf('SC_PAGE_SIZE')
        self.peak = 0
        self._stop = threading.Event()

    def rss(self) -> int:
        with open('/proc/self/statm') as f:
            return int(f.read().split()[1]) * self.page

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, self.rss())
            time.sleep(0.001)

    def __enter__(self):
        self.peak = self.rss()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, self.rss())


def return_freed_memory_to_os() -> None:
    """Make glibc give freed tensors back at once (mmap above 64 KiB), so
    RSS follows live memory instead of the allocator's high-water mark."""
    try:
        libc = ctypes.CDLL('libc.so.6')
    except OSError:
        return
    M_TRIM_THRESHOLD, M_MMAP_THRESHOLD = -1, -3
    libc.mallopt(M_MMAP_THRESHOLD, 64 * 1024)
    libc.mallopt(M_TRIM_THRESHOLD, 128 * 1024)


def memory_child(args) -> None:
    """Run in a fresh process: peak RSS of one CPU step of one variant."""
    import resource
    return_freed_memory_to_os()
    cfg = load_config(args)
    model = build_model(cfg, 'cpu')
    wrappers = build_wrappers(cfg, model, args)
    variant = build_variants(model, wrappers, args, [args.memory_child])[0]
    loader = SyntheticPairs(args.batch, model.backbone.img_size[0])
    with variant.active():
        train_step(model, variant, loader, 'cpu')  # creates optimizer state
        sampler = RSSSampler()
        before = sampler.rss()
        with sampler:
            train_step(model, variant, loader, 'cpu')
    result = dict(
        before=before,
        peak=sampler.peak,
        maxrss=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024)
    print('MEMORY_JSON ' + json.dumps(result), flush=True)


def measure_memory(args, names: List[str]) -> Dict[str, dict]:
    """Peak memory per variant, each in its own process."""
    out = {}
    argv = list(args.argv)
    for name in names:
        cmd = [sys.executable, osp.abspath(__file__)
               ] + argv + ['--memory-child', name]
        proc = subprocess.run(cmd, capture_output=True, text=True)
        line = [
            x for x in proc.stdout.splitlines() if x.startswith('MEMORY_JSON ')
        ]
        if proc.returncode != 0 or not line:
            raise RuntimeError(f'memory measurement of {name} failed:\n'
                               f'{proc.stderr[-3000:]}')
        out[name] = json.loads(line[-1][len('MEMORY_JSON '):])
    return out


def _rounds(rows: list, steps: int) -> List[list]:
    """Split a variant's timed steps into its rounds."""
    return [rows[i:i + steps] for i in range(0, len(rows), steps)]


def state_bytes(model, optimizer) -> int:
    """Bytes of parameters, buffers and optimizer state (what a step keeps
    between iterations, gradients excluded: they are freed by zero_grad)."""
    seen, total = set(), 0
    tensors = list(model.parameters()) + list(model.buffers())
    for state in optimizer.state.values():
        tensors += [v for v in state.values() if torch.is_tensor(v)]
    for t in tensors:
        key = t.untyped_storage().data_ptr()
        if key not in seen:
            seen.add(key)
            total += t.untyped_storage().nbytes()
    return total


def report_memory(model, variants, loader, args) -> Dict[str, dict]:
    """Print and return the peak memory of one step of every variant."""
    from vicmae_mm.analysis.memory import allocation_peak
    out = {name: {} for name in (v.name for v in variants)}
    mib = 2**20
    if args.memory:
        print('peak tensor memory of one training step, MiB (profiler '
              'memory timeline; "state" = parameters, buffers, AdamW state)')
        for v in variants:
            with v.active():
                static = state_bytes(model, v.wrapper.optimizer)
                if args.device == 'cuda':
                    torch.cuda.reset_peak_memory_stats()
                    before = torch.cuda.memory_allocated()
                    train_step(model, v, loader, args.device)
                    step = torch.cuda.max_memory_allocated() - before
                else:
                    step = allocation_peak(
                        lambda: train_step(model, v, loader, args.device),
                        args.device)['peak']
            out[v.name].update(state=static, step_peak=step)
            print(f'  {v.name:<14} state {static / mib:8.0f}   step peak '
                  f'above state {step / mib:8.0f}   total '
                  f'{(static + step) / mib:8.0f}')
        if 'ours-ckpt' in out:
            a, b = out['ours'], out['ours-ckpt']
            print(
                'activation checkpointing: step peak -'
                f'{100 * (1 - b["step_peak"] / a["step_peak"]):.0f}%, '
                'total -'
                f'{100 * (1 - (b["state"] + b["step_peak"]) / (a["state"] + a["step_peak"])):.0f}%'
            )  # noqa: E501
    if args.rss and args.device == 'cpu':
        rss = measure_memory(args, list(out))
        print('peak RSS of one step (fresh process per variant, sampled '
              'every 1 ms, glibc mmap threshold 64 KiB), MiB:')
        for name, m in rss.items():
            out[name].update(rss_before=m['before'], rss_peak=m['peak'])
            print(f'  {name:<14} peak {m["peak"] / mib:8.0f}   before step '
                  f'{m["before"] / mib:8.0f}   step peak above it '
                  f'{(m["peak"] - m["before"]) / mib:8.0f}')
    return out


def loadavg() -> str:
    try:
        return ' '.join(f'{x:.2f}' for x in os.getloadavg())
    except OSError:
        return 'n/a'


# --------------------------------------------------------------------------
def main(argv=None) -> dict:
    args = parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    if args.device == 'cuda' and not torch.cuda.is_available():
        raise RuntimeError('--device cuda: no CUDA device is available')
    import logging

    from mmengine.logging import MMLogger

    import vicmae_mm  # noqa: F401
    from vicmae_mm.analysis.flops import vicmae_step_flops
    MMLogger.get_instance('mmengine').setLevel(logging.WARNING)
    MMLogger.get_current_instance().setLevel(logging.WARNING)

    if args.memory_child:
        memory_child(args)
        return {}

    load_start = loadavg()
    malloc_tuned = False
    if args.device == 'cpu' and not args.no_malloc_tuning:
        from vicmae_mm.utils.runner_setup import keep_freed_memory_in_process
        malloc_tuned = keep_freed_memory_in_process()
    cfg = load_config(args)
    model = build_model(cfg, args.device)
    wrappers = build_wrappers(cfg, model, args)
    variants = build_variants(model, wrappers, args)
    size = model.backbone.img_size[0]
    loader = SyntheticPairs(args.batch, size)
    flops = vicmae_step_flops(model, args.batch)
    amp_dtype = getattr(torch, args.dtype)
    print(f'config: {args.config}  device: {args.device}  threads: '
          f'{torch.get_num_threads()}  batch: {args.batch} pairs  img: '
          f'{size}  torch {torch.__version__}')
    print(f'encoder: {type(model.backbone).__name__}  decoder: '
          f'{type(model.neck).__name__}  optimizer: '
          f'{type(wrappers["fp32"].optimizer).__name__} (fused: '
          f'{wrappers["fp32"].optimizer.defaults.get("fused")})  amp: '
          f'{args.dtype if args.amp else "off"}  malloc tuning: '
          f'{malloc_tuned}')
    print(f'analytic FLOPs per step: {flops["total"] / 1e9:.2f} G '
          f'(forward {flops["forward"] / 1e9:.2f} G)')

    # the same batch and masks through every variant: losses must agree
    check = model.data_preprocessor(
        next(SyntheticPairs(args.batch, size)), True)['inputs']
    noise = torch.rand(
        2 * args.batch,
        model.backbone.num_patches,
        generator=torch.Generator().manual_seed(1)).to(args.device)
    first_losses = {}
    for v in variants:
        with v.active(), v.wrapper.optim_context(model):
            losses = v.loss_fn(check, noise)
        first_losses[v.name] = {
            k: float(val.detach().float())
            for k, val in losses.items()
        }
        model.zero_grad(set_to_none=True)

    for v in variants:  # warm-up (optimizer state, compilation)
        with v.active():
            for _ in range(args.warmup):
                train_step(model, v, loader, args.device)

    times = {v.name: [] for v in variants}
    peaks = {'fp32': []}
    if args.amp:
        peaks[args.dtype] = []
    for _ in range(args.repeats):
        peaks['fp32'].append(
            matmul_peaks(args.device, torch.float32, args.peak_size))
        if args.amp:
            peaks[args.dtype].append(
                matmul_peaks(args.device, amp_dtype, args.peak_size))
        for v in variants:
            with v.active():
                for _ in range(args.steps):
                    times[v.name].append(
                        train_step(model, v, loader, args.device))

    peak = {}
    for kind, rounds in peaks.items():
        per_backend = {
            b: statistics.median(r[b] for r in rounds)
            for b in rounds[0]
        }
        peak[kind] = dict(per_backend, best=max(per_backend.values()))
    results = dict(
        config=args.config,
        device=args.device,
        threads=torch.get_num_threads(),
        batch=args.batch,
        img_size=size,
        amp=args.dtype if args.amp else None,
        flops=dict(flops),
        matmul_peak_gflops=peak,
        loadavg_start=load_start,
        variants={})
    print('\nmatmul peak (GFLOP/s, median of rounds): ' +
          '; '.join(f'{kind}: ' + ', '.join(f'{b} {r:.0f}'
                                            for b, r in p.items())
                    for kind, p in peak.items()))
    print('(medians over every timed step; "best ms" is the fastest step)')
    header = (f'{"variant":<14}{"pairs/s":>9}{"step ms":>9}{"best ms":>9}' +
              ''.join(f'{s:>10}' for s in SPLITS) +
              f'{"GFLOP/s":>9}{"%peak":>7}{"%fp32pk":>8}')
    print(header)
    for v in variants:
        rows = times[v.name]
        med = {k: statistics.median(r[k] for r in rows) for k in rows[0]}
        pairs = args.batch / med['total']
        gflops = flops['total'] / med['total'] / 1e9
        low_precision = args.amp and v.wrapper is wrappers.get('amp')
        ref_peak = peak[args.dtype if low_precision else 'fp32']['best']
        results['variants'][v.name] = dict(
            pairs_per_s=pairs,
            step_s=med,
            gflops=gflops,
            frac_peak=gflops / ref_peak,
            frac_fp32_peak=gflops / peak['fp32']['best'],
            steps=len(rows),
            step_totals=[r['total'] for r in rows],
            losses=first_losses[v.name])
        best = min(r['total'] for r in rows)
        print(f'{v.name:<14}{pairs:>9.3f}{med["total"] * 1e3:>9.0f}'
              f'{best * 1e3:>9.0f}' + ''.join(f'{med[s] * 1e3:>10.0f}'
                                              for s in SPLITS) +
              f'{gflops:>9.1f}{100 * gflops / ref_peak:>7.1f}'
              f'{100 * gflops / peak["fp32"]["best"]:>8.1f}')
    speed = {k: r['pairs_per_s'] for k, r in results['variants'].items()}
    results['speedups'] = {}
    for base in ('reference', 'ours-fp32'):
        if base not in speed:
            continue
        for name, value in speed.items():
            if name != base:
                ratio = value / speed[base]
                results['speedups'][f'{name} / {base}'] = ratio
                print(f'{name} / {base}: {ratio:.2f}x pairs/s')
    for name in ('ours-ckpt', 'ours-compiled'):
        if name in speed:
            ratio = speed[name] / speed['ours']
            results['speedups'][f'{name} / ours'] = ratio
            print(f'{name} / ours: {ratio:.2f}x pairs/s')
    # variants of one round ran back to back: the median of the per-round
    # ratios is the figure least affected by other load on the machine
    results['paired_speedups'] = {}
    for key in results['speedups']:
        name, base = key.split(' / ')
        ratios = [
            statistics.median(b['total']
                              for b in tb) / statistics.median(a['total']
                                                               for a in ta)
            for ta, tb in zip(
                _rounds(times[name], args.steps),
                _rounds(times[base], args.steps))
        ]
        results['paired_speedups'][key] = statistics.median(ratios)
    if results['paired_speedups']:
        print('median of per-round ratios: ' +
              ', '.join(f'{k} {v:.2f}x'
                        for k, v in results['paired_speedups'].items()))
    print('first-step losses (same batch, same masks):')
    for name, losses in first_losses.items():
        print(f'  {name:<14}' + '  '.join(f'{k} {val:.6f}'
                                          for k, val in losses.items()))

    if args.memory or args.rss:
        results['memory'] = report_memory(model, variants, loader, args)

    if args.profile:
        from torch.profiler import ProfilerActivity, profile
        acts = [ProfilerActivity.CPU]
        if args.device == 'cuda':
            acts.append(ProfilerActivity.CUDA)
        with profile(activities=acts) as prof:
            train_step(model, variants[0], loader, args.device)
        print(prof.key_averages().table(
            sort_by='self_cpu_time_total', row_limit=25))

    results['loadavg_end'] = loadavg()
    print(f'load average (1/5/15 min): start {load_start}, end '
          f'{results["loadavg_end"]}')
    if args.json:
        with open(args.json, 'w') as f:
            json.dump(results, f, indent=1)
    return results


if __name__ == '__main__':
    main()
