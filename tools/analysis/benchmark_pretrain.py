# Copyright (c) vicmae_mm contributors. All rights reserved.
"""Measure ViC-MAE pretraining speed, FLOP/s and memory on CPU or CUDA.

Runs whole training steps (synthetic uint8 view pairs -> data preprocessor
-> loss -> backward -> optimizer) of a pretraining config and prints, per
variant: pairs/s, the split of the step time (data, forward, backward,
optimizer), achieved FLOP/s from the analytic FLOP count and its fraction
of the dense matmul peak measured in the same run, the first-step losses on
one batch and one set of masks (they must agree), optionally peak tensor
memory. It also prints the CPU model, the process settings
(``configure_cpu_runtime`` of ``tools/cpu_runtime.py``, which
``tools/train.py`` applies too) and the CPU kernels the fast ViT blocks
chose by measurement.

Variants run interleaved (``--repeats`` rounds of ``--steps`` steps), on
the same weights and optimizer, so their ratios hold on a loaded machine:

- ``ours``: the model as configured (``--amp``: autocast in ``--dtype``);
- ``ours-fp32`` (``--amp --compare-fp32``): the same in fp32;
- ``reference`` (``--reference``): the plain implementation
  (``ReferenceViCMAE``: per-view passes, unfused attention, ``F.linear``);
- ``released`` (``--released``): the released ViC-MAE code's structure:
  per-view passes through timm ``Block`` modules (fused SDPA attention,
  ``nn.Linear``) sharing the model's parameters;
- ``ours-ckpt`` (``--checkpoint-activations``): every block checkpointed;
- ``ours-compiled`` (``--compile``): ``torch.compile`` of ours.

Example (docs/benchmarks/pretraining_speed.md)::

    python tools/analysis/benchmark_pretrain.py \
        configs/vicmae/pretrain_vitb.py --batch 4 --reference --released \
        --amp --compare-fp32 --repeats 5
"""
import argparse
import json
import os
import os.path as osp
import statistics
import sys
import time
from typing import Callable, Dict

import torch

# tools/ (cpu_runtime) last: its test.py is not the standard library's
sys.path.append(osp.dirname(osp.dirname(osp.abspath(__file__))))
from benchmark_variants import (SPLITS, build_variants, sync,  # noqa: E402
                                train_step)

# (flag, add_argument keywords); flags without "type" are switches
_ARGS = (
    ('--batch', dict(type=int, default=4, help='view pairs per step')),
    ('--img-size', dict(type=int, help='input size (default: the config)')),
    ('--steps', dict(type=int, default=1, help='timed steps per round')),
    ('--repeats', dict(type=int, default=5, help='interleaved rounds')),
    ('--warmup', dict(type=int, default=1, help='untimed steps per variant')),
    ('--device', dict(default='cpu', choices=['cpu', 'cuda'])),
    ('--threads', dict(type=int, help='torch.set_num_threads (CPU)')),
    ('--amp', dict(help='autocast in --dtype for "ours"')),
    ('--dtype', dict(default='bfloat16', choices=['bfloat16', 'float16'])),
    ('--compare-fp32', dict(help='with --amp, also ours in fp32')),
    ('--reference', dict(help='also the plain reference implementation')),
    ('--released', dict(help='also the released code (timm blocks)')),
    ('--compile', dict(help='also torch.compile of ours')),
    ('--checkpoint-activations', dict(help='also ours, blocks checkpointed')),
    ('--memory', dict(help='peak tensor memory of a step per variant')),
    ('--peak-size', dict(type=int, default=4096, help='peak matmul size')),
    ('--no-malloc-tuning', dict(help='glibc defaults (cpu_runtime)')),
    ('--json', dict(type=str, help='also write the results here')),
    ('--cfg-options', dict(nargs='+', default=[], help='key=value overrides')),
)


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description='Benchmark ViC-MAE pretraining')
    p.add_argument('config', help='pretraining config file')
    for flag, kwargs in _ARGS:
        switch = not {'type', 'default', 'nargs'} & set(kwargs)
        p.add_argument(
            flag,
            **(dict(action='store_true', **kwargs) if switch else kwargs))
    args = p.parse_args(argv)
    for name in ('batch', 'steps', 'repeats'):
        if getattr(args, name) < 1:
            p.error(f'--{name} must be >= 1')
    if args.compare_fp32 and not args.amp:
        p.error('--compare-fp32 needs --amp')
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
        ns = argparse.Namespace()
        DictAction(option_strings=[], dest='x')(None, ns, args.cfg_options)
        cfg.merge_from_dict(ns.x)
    if 'model' not in cfg or 'optim_wrapper' not in cfg:
        raise ValueError(f'{args.config}: needs "model" and "optim_wrapper"')
    if args.img_size is not None:
        patch = cfg.model.backbone.get('patch_size', 16)
        if args.img_size % patch:
            raise ValueError(f'--img-size {args.img_size} is not divisible '
                             f'by the patch size {patch}')
        cfg.model.backbone.img_size = args.img_size
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
    """fp32 wrapper and (``--amp``) the mixed-precision one, sharing one
    optimizer built from the config (AdamW, param-wise settings)."""
    from mmengine.optim import AmpOptimWrapper, build_optim_wrapper

    from vicmae_mm.engine.optimizers import CPUAmpOptimWrapper
    optim_cfg = cfg.optim_wrapper.copy()
    for key in ('loss_scale', 'dtype', 'use_fsdp'):
        optim_cfg.pop(key, None)
    optim_cfg['type'] = 'OptimWrapper'
    wrappers = {'fp32': build_optim_wrapper(model, optim_cfg)}
    if args.amp:
        opt = wrappers['fp32'].optimizer
        wrappers['amp'] = AmpOptimWrapper(
            optimizer=opt,
            dtype=args.dtype,
            loss_scale='dynamic' if args.dtype == 'float16' else 1.0) \
            if args.device == 'cuda' else CPUAmpOptimWrapper(
                optimizer=opt, dtype=args.dtype)
    return wrappers


class SyntheticPairs:
    """Endless collated batches of uint8 view pairs."""

    def __init__(self, batch: int, size: int, pool: int = 4) -> None:
        g = torch.Generator().manual_seed(0)
        self.pool = [
            torch.randint(0,
                          256, (batch, 3, size, size),
                          generator=g,
                          dtype=torch.uint8) for _ in range(pool)
        ]
        self.i = 0

    def __next__(self) -> dict:
        self.i += 1
        n = len(self.pool)
        views = [self.pool[self.i % n], self.pool[(self.i + 1) % n]]
        return dict(inputs=views, data_samples=None)


# --------------------------------------------------------------------------
# measurement
# --------------------------------------------------------------------------
def _timeit(fn: Callable, device: str, reps: int = 3) -> float:
    fn()
    sync(device)
    runs = []
    for _ in range(reps):
        start = time.perf_counter()
        fn()
        sync(device)
        runs.append(time.perf_counter() - start)
    return statistics.median(runs)


def matmul_peaks(device: str, dtype: torch.dtype, n: int) -> Dict[str, float]:
    """Dense ``n^3`` matmul GFLOP/s by the default BLAS (``torch.mm``) and,
    for fp32 on CPU, by oneDNN."""
    from vicmae_mm.models.utils.cpu_kernels import onednn_available
    a = torch.randn(n, n, device=device).to(dtype)
    b = torch.randn(n, n, device=device).to(dtype)
    flops = 2 * n**3 / 1e9
    rates = {'torch.mm': flops / _timeit(lambda: a @ b, device)}
    if device == 'cpu' and dtype == torch.float32 and onednn_available():
        bt = b.t()  # oneDNN computes a @ W.T; W = b.T is a free view
        rates['oneDNN'] = flops / _timeit(
            lambda: torch.ops.mkldnn._linear_pointwise(a, bt, None, 'none', [],
                                                       ''), device)
    return rates


def state_bytes(model, optimizer) -> int:
    """Bytes of parameters, buffers and optimizer state."""
    seen, total = set(), 0
    tensors = list(model.parameters()) + list(model.buffers())
    for state in optimizer.state.values():
        tensors += [v for v in state.values() if torch.is_tensor(v)]
    for t in tensors:
        storage = t.untyped_storage()
        if storage.data_ptr() not in seen:
            seen.add(storage.data_ptr())
            total += storage.nbytes()
    return total


def report_memory(model, variants, loader, args) -> Dict[str, dict]:
    """Peak tensor memory of one step per variant above the kept state."""
    from memory import allocation_peak
    out, mib = {}, 2**20
    print('peak tensor memory of one step, MiB ("state": parameters, '
          'buffers, optimizer state)')
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
        out[v.name] = dict(state=static, step_peak=step)
        print(f'  {v.name:<14} state {static / mib:8.0f}   step peak '
              f'{step / mib:8.0f}   total {(static + step) / mib:8.0f}')
    return out


def summarize(times, variants, wrappers, peak, flops, args) -> dict:
    """Per-variant medians, FLOP/s and the interleaved ratios."""
    out, speed = {}, {}
    print(f'{"variant":<14}{"pairs/s":>9}{"step ms":>9}' +
          ''.join(f'{s:>10}' for s in SPLITS) + f'{"GFLOP/s":>9}{"%peak":>7}')
    for v in variants:
        rows = times[v.name]
        med = {k: statistics.median(r[k] for r in rows) for k in rows[0]}
        gflops = flops['total'] / med['total'] / 1e9
        low = args.amp and v.wrapper is wrappers.get('amp')
        ref_peak = peak[args.dtype if low else 'fp32']['best']
        speed[v.name] = args.batch / med['total']
        out[v.name] = dict(pairs_per_s=speed[v.name],
                           step_s=med,
                           gflops=gflops,
                           frac_peak=gflops / ref_peak,
                           step_totals=[r['total'] for r in rows])
        print(f'{v.name:<14}{speed[v.name]:>9.3f}{med["total"] * 1e3:>9.0f}' +
              ''.join(f'{med[s] * 1e3:>10.0f}' for s in SPLITS) +
              f'{gflops:>9.1f}{100 * gflops / ref_peak:>7.1f}')
    ratios, paired = {}, {}
    # ours (and its fp32 twin) against each yardstick, knobs against ours
    pairs = [(n, b) for b in ('reference', 'released', 'ours-fp32')
             for n in ('ours', 'ours-fp32') if {n, b} <= set(speed) and n != b]
    pairs += [(n, 'ours') for n in ('ours-ckpt', 'ours-compiled')
              if n in speed]
    for name, base in pairs:
        key = f'{name} / {base}'
        ratios[key] = speed[name] / speed[base]
        # variants of one round ran back to back: the median of per-round
        # ratios is least affected by other load on the machine
        per_round = []
        for i in range(0, len(times[name]), args.steps):
            a, b = (statistics.median(r['total']
                                      for r in times[n][i:i + args.steps])
                    for n in (name, base))
            per_round.append(b / a)
        paired[key] = statistics.median(per_round)
        print(f'{key}: {ratios[key]:.2f}x pairs/s (median of per-round '
              f'ratios {paired[key]:.2f}x)')
    return dict(variants=out, speedups=ratios, paired_speedups=paired)


def main(argv=None) -> dict:
    args = parse_args(argv)
    if args.device == 'cuda' and not torch.cuda.is_available():
        raise RuntimeError('--device cuda: no CUDA device is available')
    import logging

    from mmengine.logging import MMLogger

    import vicmae_mm  # noqa: F401
    from flops import vicmae_step_flops
    from vicmae_mm.models.utils.cpu_kernels import kernel_choices
    from cpu_runtime import configure_cpu_runtime
    for logger in (MMLogger.get_instance('mmengine'),
                   MMLogger.get_current_instance()):
        logger.setLevel(logging.WARNING)
    load_start = ' '.join(f'{x:.2f}' for x in os.getloadavg())
    runtime = configure_cpu_runtime(
        args.threads, malloc_tuning=not args.no_malloc_tuning) \
        if args.device == 'cpu' else {}
    cfg = load_config(args)
    model = build_model(cfg, args.device)
    wrappers = build_wrappers(cfg, model, args)
    variants = build_variants(model, wrappers, args)
    size = model.backbone.img_size[0]
    loader = SyntheticPairs(args.batch, size)
    flops = vicmae_step_flops(model, args.batch)
    print(f'config: {args.config}  device: {args.device}  batch: '
          f'{args.batch} pairs  img: {size}  torch {torch.__version__}  '
          f'amp: {args.dtype if args.amp else "off"}')
    print('cpu runtime: ' + ', '.join(f'{k}: {v}' for k, v in runtime.items()))
    print(f'analytic FLOPs per step: {flops["total"] / 1e9:.2f} G')

    # the same batch and masks through every variant: losses must agree
    check = model.data_preprocessor(next(SyntheticPairs(args.batch, size)),
                                    True)['inputs']
    noise = torch.rand(2 * args.batch,
                       model.backbone.num_patches,
                       generator=torch.Generator().manual_seed(1)).to(
                           args.device)
    first_losses = {}
    for v in variants:
        with v.active(), v.wrapper.optim_context(model):
            losses = v.loss_fn(check, noise)
        first_losses[v.name] = {
            k: float(x.detach().float())
            for k, x in losses.items()
        }
        model.zero_grad(set_to_none=True)
    for v in variants:  # warm-up (optimizer state, compilation)
        with v.active():
            for _ in range(args.warmup):
                train_step(model, v, loader, args.device)
    choices = kernel_choices()
    print('CPU kernels chosen by measurement (kind, threads, shape class):')
    for key, value in choices.items():
        print(f'  {key}: {value}')

    kinds = {'fp32': torch.float32}
    if args.amp:
        kinds[args.dtype] = getattr(torch, args.dtype)
    times = {v.name: [] for v in variants}
    peaks = {k: [] for k in kinds}
    for _ in range(args.repeats):
        for kind, dtype in kinds.items():
            peaks[kind].append(matmul_peaks(args.device, dtype,
                                            args.peak_size))
        for v in variants:
            with v.active():
                for _ in range(args.steps):
                    times[v.name].append(
                        train_step(model, v, loader, args.device))
    peak = {}
    for kind, rounds in peaks.items():
        med = {b: statistics.median(r[b] for r in rounds) for b in rounds[0]}
        peak[kind] = dict(med, best=max(med.values()))
    print('matmul peak GFLOP/s (median of rounds): ' +
          '; '.join(f'{k}: ' + ', '.join(f'{b} {r:.0f}' for b, r in p.items())
                    for k, p in peak.items()))
    results = dict(config=args.config,
                   device=args.device,
                   runtime=runtime,
                   batch=args.batch,
                   img_size=size,
                   amp=args.dtype if args.amp else None,
                   flops=dict(flops),
                   matmul_peak_gflops=peak,
                   kernel_choices=choices,
                   loadavg_start=load_start)
    results.update(summarize(times, variants, wrappers, peak, flops, args))
    print('first-step losses (same batch, same masks):')
    for name, losses in first_losses.items():
        results['variants'][name]['losses'] = losses
        print(f'  {name:<14}' + '  '.join(f'{k} {x:.6f}'
                                          for k, x in losses.items()))
    if args.memory:
        results['memory'] = report_memory(model, variants, loader, args)
    results['loadavg_end'] = ' '.join(f'{x:.2f}' for x in os.getloadavg())
    print(f'load average (1/5/15 min): start {load_start}, end '
          f'{results["loadavg_end"]}')
    if args.json:
        with open(args.json, 'w') as f:
            json.dump(results, f, indent=1)
    return results


if __name__ == '__main__':
    main()
