# Copyright (c) vicmae_mm contributors. All rights reserved.
"""Tiny ViC-MAE models and inputs shared by the performance tests."""
import copy

import torch
from mmengine.config import Config
from mmpretrain.registry import MODELS

import vicmae_mm  # noqa: F401
from helpers import TINY_PRETRAIN_CFG

IMG, PATCH = 32, 8
NUM_PATCHES = (IMG // PATCH)**2


def tiny_model_cfg(enc_layers: int = 3,
                   dec_layers: int = 2,
                   decoder: str = 'ViCMAEPretrainDecoder',
                   **overrides):
    """The tests' tiny ViC-MAE config, a little deeper, with the fast
    decoder; ``overrides`` are set on ``model.backbone`` (``bb_*``),
    ``model.neck`` (``neck_*``) or ``model``."""
    cfg = copy.deepcopy(Config.fromfile(TINY_PRETRAIN_CFG).model)
    cfg.backbone.arch.num_layers = enc_layers
    cfg.neck.decoder_depth = dec_layers
    cfg.neck.type = decoder
    for key, value in overrides.items():
        if key.startswith('bb_'):
            cfg.backbone[key[3:]] = value
        elif key.startswith('neck_'):
            cfg.neck[key[5:]] = value
        else:
            cfg[key] = value
    return cfg


def build(cfg, seed: int = 0, state_dict=None):
    torch.manual_seed(seed)
    model = MODELS.build(cfg)
    model.init_weights()
    if state_dict is not None:
        model.load_state_dict(state_dict)
    return model.train()


def pair_and_noise(b: int = 4, seed: int = 1):
    g = torch.Generator().manual_seed(seed)
    views = [torch.randn(b, 3, IMG, IMG, generator=g) for _ in range(2)]
    noise = torch.rand(2 * b, NUM_PATCHES, generator=g)
    return views, noise


def loss_and_grads(loss_fn, model, views, noise):
    """Losses and parameter gradients of one forward/backward."""
    model.zero_grad(set_to_none=True)
    losses = loss_fn(views, noise)
    total = sum(v for k, v in losses.items() if 'loss' in k)
    total.backward()
    grads = {
        n: p.grad.detach().clone()
        for n, p in model.named_parameters() if p.grad is not None
    }
    return {k: v.detach() for k, v in losses.items()}, grads


def assert_same(a, b, rtol=1e-5, atol=1e-6):
    """Two (losses, grads) results agree to float rounding."""
    (la, ga), (lb, gb) = a, b
    assert set(la) == set(lb)
    for k in la:
        assert torch.allclose(la[k], lb[k], rtol=rtol, atol=atol), \
            (k, la[k], lb[k])
    assert set(ga) == set(gb) and len(ga) > 0
    # a bias before BatchNorm has a zero gradient up to rounding: compare
    # against the largest gradient too, not only against its own size
    top = max(float(g.abs().max()) for g in gb.values())
    for n in ga:
        err = float((ga[n] - gb[n]).abs().max())
        scale = float(gb[n].abs().max())
        assert err <= 1e-4 * scale + 1e-6 * top, (n, err, scale, top)
