# Copyright (c) vicmae_mm contributors. All rights reserved.
"""Every collective of the toolkit under NCCL's device rule (CUDA tensors
only), on CPU: see tests/nccl_semantics.py for what the harness is."""
from types import SimpleNamespace

import pytest
import torch
import torch.distributed as dist

from helpers import TINY_PRETRAIN_CFG
from nccl_semantics import (CPU_REJECTED, DataDependentOutputException,
                            cuda_only_world)

CUDA = torch.device('cuda', 0)


def test_harness_rejects_cpu_tensors_as_nccl_does(monkeypatch):
    """Negative control: what the toolkit did before (a flag made on the
    CPU, then all-reduced) fails here exactly as it did on GPUs."""
    with cuda_only_world(monkeypatch=monkeypatch):
        with pytest.raises(RuntimeError, match=CPU_REJECTED):
            votes = torch.tensor([0.0])
            dist.all_reduce(votes)
        dist.all_reduce(torch.zeros(1, device='cuda'))  # accepted


def test_comm_device_follows_the_group(monkeypatch):
    from vicmae_mm.models.utils.dist_utils import comm_device
    with cuda_only_world(monkeypatch=monkeypatch):
        assert comm_device() == CUDA


@pytest.mark.parametrize('flag', [False, True, 'cpu_tensor', 'cuda_tensor'])
def test_any_rank_sends_its_flag_on_the_group_device(monkeypatch, flag):
    from vicmae_mm.models.utils import any_rank
    from vicmae_mm.models.utils.dist_utils import _vote
    with cuda_only_world(monkeypatch=monkeypatch):
        if flag == 'cpu_tensor':
            flag = torch.tensor(False)
        elif flag == 'cuda_tensor':
            flag = torch.zeros(3, device='cuda') > 1
        vote = _vote(flag)
        assert vote.device == CUDA and vote.shape == (1, )
        # the whole decision up to its host read: fake values cannot be
        # read, so reaching the read is what passing means here
        with pytest.raises(DataDependentOutputException):
            any_rank(flag)


def test_gather_and_reduce_with_grad_stay_on_the_group_device(monkeypatch):
    from vicmae_mm.models.utils import (all_gather_with_grad,
                                        all_reduce_sum_with_grad)
    from vicmae_mm.models.utils.dist_utils import (_AllGatherWithGrad,
                                                   _AllReduceSumWithGrad)
    with cuda_only_world(monkeypatch=monkeypatch):
        x = torch.randn(3, 5, device='cuda', requires_grad=True)
        gathered = all_gather_with_grad(x)
        assert gathered.shape == (6, 5) and gathered.device == CUDA
        assert gathered.requires_grad
        ctx = SimpleNamespace(device=x.device)
        grad = _AllGatherWithGrad.backward(ctx, torch.ones(6, 5,
                                                           device='cuda'))
        assert grad.shape == (3, 5) and grad.device == CUDA
        summed = all_reduce_sum_with_grad(x)
        assert summed.shape == x.shape and summed.device == CUDA
        back = _AllReduceSumWithGrad.backward(None, torch.ones_like(x))
        assert back.device == CUDA


def test_model_forward_with_global_bn_and_infonce(monkeypatch):
    """The whole pretraining forward of the default model (tiny sizes) on
    "GPU": masking, decoder, reconstruction loss, pooling, projector with
    GlobalBN1d (three all-reduces), InfoNCE (one all-gather)."""
    import vicmae_mm  # noqa: F401
    from mmengine.config import Config
    from mmengine.registry import init_default_scope
    from mmpretrain.registry import MODELS
    init_default_scope('mmpretrain')
    cfg = Config.fromfile(TINY_PRETRAIN_CFG).model
    with cuda_only_world(monkeypatch=monkeypatch):
        with torch.device('cuda'):  # parameters made on the "GPU"
            model = MODELS.build(cfg).train()
        assert next(model.parameters()).device == CUDA
        views = [torch.randn(4, 3, 32, 32, device='cuda') for _ in range(2)]
        losses = model.loss(views)
        for key in ('loss_rec', 'loss_nce', 'nce_acc'):
            assert losses[key].device == CUDA, key
        assert losses['loss_nce'].dtype == torch.float32


def test_nonfinite_loss_hook_decides_on_the_group_device(monkeypatch):
    from vicmae_mm.engine.hooks.nonfinite_loss_hook import NonFiniteLossHook
    hook = NonFiniteLossHook()
    runner = SimpleNamespace(iter=0, work_dir='.', optim_wrapper=None)
    with cuda_only_world(monkeypatch=monkeypatch):
        outputs = dict(
            loss_rec=torch.ones((), device='cuda'),
            loss_nce=torch.ones((), device='cuda'),
            nce_acc=torch.ones((), device='cuda'))
        with pytest.raises(DataDependentOutputException):
            hook.after_train_iter(runner, 0, outputs=outputs)
