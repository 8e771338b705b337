# Copyright (c) vicmae_mm contributors. All rights reserved.
"""2-process gloo DDP equals 1 process on the whole batch (loss + grads)."""
import torch

from dist_helpers import run_distributed

BATCH = 8  # pairs; split 4 + 4 over two ranks


def _inputs():
    g = torch.Generator().manual_seed(7)
    views = [torch.randn(BATCH, 3, 32, 32, generator=g) for _ in range(2)]
    noise = torch.rand(2 * BATCH, 16, generator=g)
    return views, noise


def _build():
    import vicmae_mm  # noqa: F401
    from mmengine.config import Config
    from mmpretrain.registry import MODELS
    from helpers import TINY_PRETRAIN_CFG
    torch.manual_seed(0)
    model = MODELS.build(Config.fromfile(TINY_PRETRAIN_CFG).model)
    model.init_weights()
    model.train()
    return model


def _step(model, views, noise):
    losses = model(views, None, mode='loss', mask_noise=noise)
    total = losses['loss_rec'] + losses['loss_nce']
    total.backward()
    return losses


def ddp_worker(rank: int, world_size: int):
    from torch.nn.parallel import DistributedDataParallel as DDP
    model = _build()
    ddp = DDP(model)
    views, noise = _inputs()
    b = BATCH // world_size
    sl = slice(rank * b, (rank + 1) * b)
    local_views = [v[sl] for v in views]
    # masking noise rows follow the [view1; view2] layout of each process
    local_noise = torch.cat([noise[:BATCH][sl], noise[BATCH:][sl]])
    losses = _step(ddp, local_views, local_noise)
    grads = {
        n: p.grad.clone()
        for n, p in model.named_parameters() if p.grad is not None
    }
    return dict(
        loss_rec=losses['loss_rec'].detach(),
        loss_nce=losses['loss_nce'].detach(),
        grads=grads)


def test_two_process_ddp_equals_one_process():
    results = run_distributed(ddp_worker, 2)
    model = _build()
    views, noise = _inputs()
    ref = _step(model, views, noise)
    for key in ('loss_rec', 'loss_nce'):
        dist_value = sum(r[key] for r in results) / 2
        assert torch.allclose(dist_value, ref[key].detach(), atol=1e-6,
                              rtol=1e-5), key
    ref_grads = {
        n: p.grad
        for n, p in model.named_parameters() if p.grad is not None
    }
    assert set(ref_grads) == set(results[0]['grads'])
    for name, grad in ref_grads.items():
        for r in results:  # DDP leaves identical averaged grads on each rank
            assert torch.allclose(r['grads'][name], grad, atol=1e-5,
                                  rtol=1e-4), name
