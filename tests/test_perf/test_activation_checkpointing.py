# Copyright (c) vicmae_mm contributors. All rights reserved.
"""Activation checkpointing: same losses and gradients, less memory."""
import pytest
import torch
from mmpretrain.registry import MODELS

from helpers import TINY_ARCH
from perf_helpers import (assert_same, build, loss_and_grads, pair_and_noise,
                          tiny_model_cfg)
from memory import allocation_peak


def _ours(model):
    return lambda views, noise: model.loss(views, mask_noise=noise)


@pytest.mark.parametrize('enc, dec', [(True, True), (1, False), (0, 2)])
def test_checkpointing_keeps_losses_and_gradients(enc, dec):
    plain = build(tiny_model_cfg())
    ckpt = build(
        tiny_model_cfg(
            bb_with_cp=enc, neck_with_cp=dec),
        state_dict=plain.state_dict())
    assert ckpt.backbone.num_checkpointed == (3 if enc is True else enc)
    assert ckpt.neck.num_checkpointed == (2 if dec is True else int(dec))
    views, noise = pair_and_noise()
    assert_same(
        loss_and_grads(_ours(ckpt), ckpt, views, noise),
        loss_and_grads(_ours(plain), plain, views, noise),
        rtol=1e-6,
        atol=1e-7)


def test_checkpointing_lowers_peak_tensor_memory():
    cfg = tiny_model_cfg(enc_layers=4, dec_layers=2)
    plain = build(cfg)
    ckpt = build(
        tiny_model_cfg(
            enc_layers=4,
            dec_layers=2,
            bb_with_cp=True,
            neck_with_cp=True),
        state_dict=plain.state_dict())
    views, noise = pair_and_noise(b=16)

    def step(model):

        def run():
            losses = model.loss(views, mask_noise=noise)
            (losses['loss_rec'] + losses['loss_nce']).backward()

        model.zero_grad(set_to_none=True)
        return allocation_peak(run)

    a, b = step(plain), step(ckpt)
    # both end holding exactly the gradients
    grads = sum(p.numel() * 4 for p in plain.parameters() if p.requires_grad)
    assert a['end'] == b['end'] == grads
    assert b['peak'] < 0.6 * a['peak'], (a, b)


@pytest.mark.parametrize('value', [5, -1, 1.5, 'all'])
def test_bad_checkpointing_value(value):
    with pytest.raises(ValueError, match='with_cp'):
        MODELS.build(
            dict(
                type='ViCMAEViT',
                arch=TINY_ARCH,
                img_size=32,
                patch_size=8,
                with_cp=value))
