# Copyright (c) vicmae_mm contributors. All rights reserved.
"""InfoNCEHead positive modes, fp32 logits under autocast."""
import numpy as np
import pytest
import torch
from mmpretrain.registry import MODELS

import vicmae_mm  # noqa: F401
from dist_helpers import run_distributed

WORLD, B, DIM, TAU = 2, 3, 8, 0.1


def _projections():
    """Un-normalised projections of both views for every rank."""
    g = torch.Generator().manual_seed(11)
    return torch.randn(WORLD, 2, B, DIM, generator=g)  # rank, view, sample


def released_loss_numpy(z_local: np.ndarray, z_all: np.ndarray, rank: int,
                        tau: float) -> float:
    """models_vicmae.ViCMAE.info_nce_loss of the released code, float64.

    ``z_local`` is this rank's ``cat([u1, u2])``; ``z_all`` the gather of
    every rank's, in rank order.
    """
    z = z_local / np.linalg.norm(z_local, axis=1, keepdims=True)
    g = z_all / np.linalg.norm(z_all, axis=1, keepdims=True)
    sim = np.exp(z @ g.T / tau)
    indexes = np.tile(np.arange(len(z) // 2), 2)
    gathered = np.tile(indexes, len(g) // len(z))
    pos_mask = indexes[:, None] == gathered[None]
    off = len(z) * rank
    pos_mask[np.arange(len(z)), off + np.arange(len(z))] = False
    neg_mask = indexes[:, None] != gathered[None]
    pos = (sim * pos_mask).sum(1)
    neg = (sim * neg_mask).sum(1)
    return float(-np.mean(np.log(pos / (pos + neg))))


def released_worker(rank: int, world_size: int):
    head = MODELS.build(dict(type='InfoNCEHead', temperature=TAU,
                             positive_mode='local_index'))
    z = _projections()[rank].clone().requires_grad_()
    loss, acc = head.loss(z[0], z[1])
    loss.backward()
    return dict(loss=loss.detach().double(), acc=acc, grad=z.grad)


def test_released_positives_two_processes_match_numpy():
    results = run_distributed(released_worker, WORLD)
    z = _projections().double().numpy()
    z_all = np.concatenate([np.concatenate([z[r, 0], z[r, 1]])
                            for r in range(WORLD)])
    for rank, result in enumerate(results):
        z_local = np.concatenate([z[rank, 0], z[rank, 1]])
        expected = released_loss_numpy(z_local, z_all, rank, TAU)
        assert result['loss'].item() == pytest.approx(expected, rel=1e-5)
        assert torch.isfinite(result['grad']).all()
        assert result['grad'].abs().sum() > 0


def test_one_process_local_index_equals_pair():
    z = _projections()[0]
    pair = MODELS.build(dict(type='InfoNCEHead'))
    local = MODELS.build(dict(type='InfoNCEHead',
                              positive_mode='local_index'))
    loss_p, acc_p = pair.loss(z[0], z[1])
    loss_l, acc_l = local.loss(z[0], z[1])
    assert torch.allclose(loss_p, loss_l, rtol=1e-6, atol=0)
    assert acc_p == acc_l
    z_np = z.double().numpy().reshape(2 * B, DIM)
    assert loss_l.item() == pytest.approx(
        released_loss_numpy(z_np, z_np, 0, 0.1), rel=1e-5)


@pytest.mark.parametrize('mode', ['pair', 'local_index'])
def test_logits_are_fp32_under_bf16_autocast(mode):
    head = MODELS.build(dict(type='InfoNCEHead', positive_mode=mode))
    g = torch.Generator().manual_seed(5)
    # many close keys: bf16 logits at T = 0.1 would be off by ~1e-2
    base = torch.randn(1, 64, generator=g)
    z1 = base + 0.05 * torch.randn(32, 64, generator=g)
    z2 = base + 0.05 * torch.randn(32, 64, generator=g)
    ref, _ = head.loss(z1, z2)
    with torch.autocast('cpu', dtype=torch.bfloat16):
        loss, _ = head.loss(z1, z2)
    assert loss.dtype == torch.float32
    assert loss.item() == pytest.approx(ref.item(), abs=1e-5)


def test_bad_positive_mode():
    with pytest.raises(ValueError, match='positive_mode'):
        MODELS.build(dict(type='InfoNCEHead', positive_mode='global'))
