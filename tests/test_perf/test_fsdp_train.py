# Copyright (c) vicmae_mm contributors. All rights reserved.
"""The FSDP recipe of configs/vicmae/strategies/pretrain_vith_fsdp.py trains,
saves and resumes for real: mmengine's FlexibleRunner with
ViCMAEFSDPStrategy on 2 gloo processes (CPU), started by tools/train.py's
main(), on the tiny model (tests/configs/pretrain_tiny_fsdp.py).

One 2-process job runs three trainings: A (iters 1-2, saves iter_2.pth),
B (``--resume`` without a path: continues with iters 3-4) and C (iters 1-4
uninterrupted, another work dir), so B can be checked against C.
"""
import importlib.util
import os
import os.path as osp

import pytest
import torch
from mmengine.config import Config
from mmengine.hooks import Hook
from mmengine.registry import HOOKS

from dist_helpers import run_distributed
from helpers import REPO_ROOT, write_images

TINY_FSDP_CFG = osp.join(REPO_ROOT, 'tests', 'configs',
                         'pretrain_tiny_fsdp.py')


_PROBES = []


@HOOKS.register_module(force=True)
class FSDPProbeHook(Hook):
    """Records where training starts, the full state there and the losses
    (collective calls: every rank runs it)."""

    priority = 'LOWEST'

    def __init__(self) -> None:
        self.runner = self.start_iter = self.state = self.optim = None
        self.losses = {}
        _PROBES.append(self)

    def before_train(self, runner) -> None:
        self.runner, self.start_iter = runner, runner.iter
        # full state dicts, gathered on rank 0 (empty elsewhere)
        self.state = runner.strategy.model_state_dict()
        if runner.iter > 0:
            self.optim = runner.strategy.optim_state_dict()

    def after_train_iter(self, runner, batch_idx, data_batch=None,
                         outputs=None) -> None:
        self.losses[runner.iter + 1] = {
            k: float(v)
            for k, v in outputs.items() if k.startswith('loss')
        }


def _train(work: str, data: str, max_iters: int, name: str, *extra):
    """tools/train.py's main() with FSDPProbeHook added to the config and
    without the final teardown (the process group serves the next training
    of the job)."""
    spec = importlib.util.spec_from_file_location(
        'vicmae_train_tool', osp.join(REPO_ROOT, 'tools', 'train.py'))
    train = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(train)
    load_config = train.load_config

    def load_with_probe(args):
        cfg = load_config(args)
        cfg.custom_hooks = list(cfg.get('custom_hooks') or []) + [
            dict(type='FSDPProbeHook')
        ]
        return cfg

    train.load_config = load_with_probe
    train.finish_distributed = lambda: None
    train.main([
        TINY_FSDP_CFG, '--launcher', 'pytorch', '--work-dir', work, *extra,
        '--cfg-options', f'train_dataloader.dataset.data_root={data}',
        f'train_cfg.max_iters={max_iters}', f'experiment_name={name}'
    ])
    probe = _PROBES[-1]
    return probe.runner, probe


def fsdp_worker(rank: int, world_size: int, root: str):
    from torch.distributed.fsdp import FullyShardedDataParallel as FSDP
    from mmpretrain.models.backbones.vision_transformer import \
        TransformerEncoderLayer

    from vicmae_mm.engine import ViCMAEFSDPStrategy
    from vicmae_mm.engine.hooks import KNNMonitorHook, ReconstructionVisHook

    # the weights each rank wraps (mmengine broadcasts rank 0's after
    # init_weights; the ranks were seeded differently: diff_rank_seed)
    pre_wrap = {}
    wrap = ViCMAEFSDPStrategy._wrap_model

    def recording_wrap(self, model):
        pre_wrap.update(
            {k: v.detach().clone()
             for k, v in model.state_dict().items()})
        return wrap(self, model)

    ViCMAEFSDPStrategy._wrap_model = recording_wrap
    data = osp.join(root, 'images')
    work, ref_work = osp.join(root, 'work'), osp.join(root, 'ref')
    runner, a = _train(work, data, 2, 'fsdp_a')
    model = runner.model
    units = [
        m for m in FSDP.fsdp_modules(model)
        if isinstance(m.module, TransformerEncoderLayer)
    ]
    facts = dict(
        wrapper=type(runner.optim_wrapper).__name__,
        param_dtype=str(model.mixed_precision.param_dtype),
        reduce_dtype=str(model.mixed_precision.reduce_dtype),
        block_units=len(units),
        checkpointed=(model.module.backbone.num_checkpointed,
                      model.module.neck.num_checkpointed),
        diff_rank_seed=runner.cfg.randomness.diff_rank_seed)
    first_wrap = dict(pre_wrap)
    _, b = _train(work, data, 4, 'fsdp_b', '--resume')
    runner_c, c = _train(ref_work, data, 4, 'fsdp_c')
    refusals = []
    for hook in (ReconstructionVisHook(),
                 KNNMonitorHook(
                     train_dataloader=dict(dataset={}),
                     val_dataloader=dict(dataset={}))):
        try:
            hook.before_train(runner_c)
            refusals.append('')
        except RuntimeError as err:
            refusals.append(str(err))
    return dict(
        pre_wrap=first_wrap,
        facts=facts,
        refusals=refusals,
        probes={
            k: dict(start=p.start_iter, losses=p.losses, state=p.state,
                    optim=p.optim)
            for k, p in (('a', a), ('b', b), ('c', c))
        })


def _assert_same(x, y, path=''):
    if isinstance(x, dict):
        assert set(x) == set(y), path
        for k in x:
            _assert_same(x[k], y[k], f'{path}.{k}')
    elif isinstance(x, (list, tuple)):
        assert len(x) == len(y), path
        for i, (u, v) in enumerate(zip(x, y)):
            _assert_same(u, v, f'{path}[{i}]')
    elif isinstance(x, torch.Tensor):
        assert torch.equal(x, y), path
    else:
        assert x == y, path


def test_fsdp_two_processes_train_save_resume(tmp_path):
    write_images(str(tmp_path / 'images'), num=16)
    results = run_distributed(fsdp_worker, 2, str(tmp_path))
    r0 = results[0]
    facts = r0['facts']
    # the recipe was in effect: bf16 compute, fp32 reduction, no scaler
    # (the CPU stand-in of AmpOptimWrapper), one unit per block (2 + 1),
    # every block's activations recomputed in backward
    assert facts == dict(
        wrapper='CPUAmpOptimWrapper', param_dtype='torch.bfloat16',
        reduce_dtype='torch.float32', block_units=3, checkpointed=(2, 1),
        diff_rank_seed=True)
    # ranks start equal, and the wrapped model holds exactly those weights
    _assert_same(results[0]['pre_wrap'], results[1]['pre_wrap'])
    _assert_same(r0['probes']['a']['state'], r0['pre_wrap'])

    work = tmp_path / 'work'
    ckpt = torch.load(work / 'iter_2.pth', weights_only=True)
    assert ckpt['meta']['iter'] == 2
    # one full state dict with the keys of the unwrapped model (backbone.*)
    assert set(ckpt['state_dict']) == set(r0['pre_wrap'])
    assert any(k.startswith('backbone.layers.1.') for k in ckpt['state_dict'])
    assert all(v.dtype != torch.bfloat16 for v in ckpt['state_dict'].values())
    assert not [f for f in os.listdir(work) if f.endswith('.tmp')]

    a, b, c = (r0['probes'][k] for k in 'abc')
    assert (a['start'], b['start'], c['start']) == (0, 2, 0)
    # B resumed exactly the saved model and optimizer state
    _assert_same(b['state'], ckpt['state_dict'])
    _assert_same(b['optim']['state'], ckpt['optimizer']['state'])
    # and continued: iters 3-4 only, as the uninterrupted run
    assert sorted(a['losses']) == [1, 2] and sorted(b['losses']) == [3, 4]
    assert sorted(c['losses']) == [1, 2, 3, 4]
    for it, run in ((1, a), (2, a), (3, b), (4, b)):
        for key, value in run['losses'][it].items():
            assert torch.isfinite(torch.tensor(value)), (it, key)
            assert abs(value - c['losses'][it][key]) <= 1e-4 * max(
                1.0, abs(value)), (it, key, value, c['losses'][it][key])
    resumed = torch.load(work / 'iter_4.pth', weights_only=True)
    reference = torch.load(tmp_path / 'ref' / 'iter_4.pth', weights_only=True)
    assert resumed['meta']['iter'] == 4
    for k, v in reference['state_dict'].items():
        assert torch.allclose(resumed['state_dict'][k], v, atol=1e-5), k
    # hooks that run the unwrapped model outside the step refuse FSDP
    assert len(r0['refusals']) == 2
    for message in r0['refusals']:
        assert 'does not support FSDP' in message


def test_fsdp_strategy_refuses_what_would_break(tmp_path):
    from vicmae_mm.engine import ViCMAEFSDPStrategy
    # sharded checkpoints are folders: --resume would not find them
    with pytest.raises(ValueError, match='state_dict_cfg="full"'):
        ViCMAEFSDPStrategy(
            state_dict_cfg='local', work_dir=str(tmp_path),
            experiment_name=f'fsdp_refuse_{os.getpid()}')
    with pytest.raises(ValueError, match='clip_grad'):
        ViCMAEFSDPStrategy.build_optim_wrapper(
            None,
            dict(optimizer=dict(type='AdamW'), clip_grad=dict(max_norm=1)))
