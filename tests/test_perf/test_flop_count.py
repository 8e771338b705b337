# Copyright (c) vicmae_mm contributors. All rights reserved.
"""The analytic FLOP count equals PyTorch's FLOP counter on the reference
implementation (which runs every matmul through countable aten ops)."""
import pytest
from torch.utils.flop_counter import FlopCounterMode

from perf_helpers import build, pair_and_noise, tiny_model_cfg
from flops import vicmae_step_flops
from reference_vicmae import ReferenceViCMAE


@pytest.mark.parametrize('overrides, b', [
    (dict(), 4),
    (dict(bb_mask_ratio=0.75), 3),
    (dict(loss_weights=dict(rec=1.0, nce=0.0)), 2),
])
def test_analytic_count_matches_flop_counter(overrides, b):
    model = build(tiny_model_cfg(**overrides))
    views, noise = pair_and_noise(b=b)
    counter = FlopCounterMode(display=False)
    with counter:
        losses = ReferenceViCMAE(model).loss(views, noise)
        sum(v for k, v in losses.items() if 'loss' in k).backward()
    flops = vicmae_step_flops(model, b)
    assert flops['total'] == counter.get_total_flops()
    assert flops['forward'] + flops['backward'] == flops['total']
    parts = [k for k in flops if k not in ('forward', 'backward', 'total')]
    assert sum(flops[k] for k in parts) == flops['forward']


def test_vit_b_count_is_the_known_figure():
    # ViT-B/16 encoder + 8x512 decoder, 224 px, ratio 0.5: forward of one
    # image is about 28.2 GFLOP of matmuls; a step is ~3x forward
    import torch
    from mmengine.config import Config
    from mmengine.registry import DefaultScope
    from mmpretrain.registry import MODELS
    from helpers import REPO_ROOT
    cfg = Config.fromfile(
        f'{REPO_ROOT}/configs/_base_/models/vicmae_vit-base-p16.py')
    with DefaultScope.overwrite_default_scope('mmpretrain'), \
            torch.device('meta'):
        model = MODELS.build(cfg.model)
    flops = vicmae_step_flops(model, 4)
    per_image = flops['forward'] / 8
    assert 27e9 < per_image < 29e9, per_image
    assert 2.9 < flops['total'] / flops['forward'] < 3.0
