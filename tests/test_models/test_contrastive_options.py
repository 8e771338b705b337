# Copyright (c) vicmae_mm contributors. All rights reserved.
"""Projector BatchNorm per view, MAE-only pooling under DDP, and
``init_cfg=Pretrained`` on the pretraining encoder."""
import copy

import torch
import torch.nn as nn
from mmengine.config import Config
from mmpretrain.registry import MODELS

import vicmae_mm  # noqa: F401
from dist_helpers import run_distributed
from helpers import TINY_PRETRAIN_CFG


def build(model_overrides=None, seed=0):
    cfg = Config.fromfile(TINY_PRETRAIN_CFG)
    cfg.merge_from_dict(
        {f'model.{k}': v
         for k, v in (model_overrides or {}).items()})
    torch.manual_seed(seed)
    model = MODELS.build(cfg.model)
    model.init_weights()
    return model


def views(b=4, seed=1):
    g = torch.Generator().manual_seed(seed)
    return [torch.randn(b, 3, 32, 32, generator=g) for _ in range(2)]


def _run_capturing_projector(model):
    pooled, outputs = [], []
    model.pool_neck.register_forward_hook(
        lambda m, i, o: pooled.append(o.detach()))
    model.projector.register_forward_hook(
        lambda m, i, o: outputs.append(o[0].detach()))
    model.train()
    model.loss(views(), mask_noise=torch.rand(8, 16))
    return pooled[0], outputs


def test_projector_per_view_batch_norm_is_per_view_batchnorm1d():
    model = build({
        'projector_per_view': True,
        'projector.norm_cfg': dict(type='BN1d')
    })
    assert isinstance(model.projector.bn0, nn.BatchNorm1d)
    reference = copy.deepcopy(model.projector)
    pooled, outputs = _run_capturing_projector(model)
    assert len(outputs) == 2  # one projector call per view
    for out, view in zip(outputs, (pooled[:4], pooled[4:])):
        torch.testing.assert_close(out, reference((view, ))[0])
    for name in ('bn0', 'bn1'):
        bn, ref = getattr(model.projector, name), getattr(reference, name)
        assert bn.num_batches_tracked.item() == 2
        torch.testing.assert_close(bn.running_mean, ref.running_mean)
        torch.testing.assert_close(bn.running_var, ref.running_var)
    # the statistics really are per view: one call over 2B differs
    joint = reference((pooled, ))[0]
    assert not torch.allclose(joint, torch.cat(outputs), atol=1e-4)


def test_projector_default_is_one_pass_over_both_views():
    model = build()
    reference = copy.deepcopy(model.projector)
    pooled, outputs = _run_capturing_projector(model)
    assert len(outputs) == 1
    torch.testing.assert_close(outputs[0], reference((pooled, ))[0])
    assert model.projector.bn0.num_batches_tracked.item() == 1


MAE_GEM = {
    'loss_weights': dict(rec=1.0, nce=0.0),
    'pool_neck.pool_type': 'gem'
}


def mae_gem_ddp_worker(rank: int, world_size: int):
    from torch.nn.parallel import DistributedDataParallel as DDP
    model = build(MAE_GEM)
    ddp = DDP(model, find_unused_parameters=False)
    optim = torch.optim.SGD(model.parameters(), lr=0.1)
    losses = []
    for it in range(3):  # an unused parameter would stop iteration 2
        loss = ddp(views(seed=10 * it + rank), None, mode='loss')['loss_rec']
        optim.zero_grad()
        loss.backward()
        optim.step()
        losses.append(loss.detach())
    return dict(losses=torch.stack(losses),
                weight=model.backbone.layers[0].attn.qkv.weight.detach())


def test_mae_only_with_gem_pooling_trains_under_ddp():
    model = build(MAE_GEM)
    assert model.pool_neck is None and not hasattr(model, 'projector')
    model.eval()
    images = views()[0]
    tokens = model.backbone(images, mask=False)[-1]
    torch.testing.assert_close(model.extract_feat(images),
                               tokens[:, 1:].mean(1))
    results = run_distributed(mae_gem_ddp_worker, 2)
    assert all(torch.isfinite(r['losses']).all() for r in results)
    # DDP kept both replicas identical through three updates
    torch.testing.assert_close(results[0]['weight'], results[1]['weight'])
    # a parameter-free pooling is still built for extract_feat
    assert build({'loss_weights': dict(rec=1.0, nce=0.0),
                  'pool_neck.pool_type': 'max'}).pool_neck.pool_type == 'max'


def test_pretrained_init_cfg_keeps_every_loaded_tensor(tmp_path):
    source = build(seed=3)
    state = source.state_dict()
    g = torch.Generator().manual_seed(4)
    # what MAEViT.init_weights would rebuild after loading
    for key in ('backbone.pos_embed', 'backbone.cls_token',
                'backbone.patch_embed.projection.weight'):
        state[key] = torch.randn(state[key].shape, generator=g)
    ckpt = str(tmp_path / 'pretrained.pth')
    torch.save({'state_dict': state}, ckpt)
    for init_cfg in (dict(type='Pretrained', checkpoint=ckpt,
                          prefix='backbone.'),
                     [dict(type='Pretrained', checkpoint=ckpt,
                           prefix='backbone.')]):
        model = build({'backbone.init_cfg': init_cfg}, seed=5)
        loaded = model.backbone.state_dict()
        assert set(loaded) == {k[len('backbone.'):] for k in state
                               if k.startswith('backbone.')}
        for key, value in loaded.items():
            assert torch.equal(value, state['backbone.' + key]), key
    # without a checkpoint the MAE initialisation still runs
    fresh = build(seed=5).backbone
    assert not torch.equal(fresh.cls_token, state['backbone.cls_token'])
    assert fresh.cls_token.std() > 0
