# Copyright (c) vicmae_mm contributors. All rights reserved.
"""The optimised ViC-MAE path equals the plain reference implementation
and mmpretrain's own forward (same weights, same masks), whichever CPU
kernels are selected."""
import pytest
import torch
import torch.nn.functional as F
from mmpretrain.models.backbones.vision_transformer import \
    TransformerEncoderLayer
from mmpretrain.models.necks import MAEPretrainDecoder
from mmpretrain.registry import MODELS

from perf_helpers import (assert_same, build, loss_and_grads, pair_and_noise,
                          tiny_model_cfg)
from reference_vicmae import ReferenceViCMAE, is_plain_vit_block
from vicmae_mm.models.backbones.fast_vit_block import (
    FastTransformerEncoderLayer, attention, fast_linear, run_vit_blocks,
    vit_block_wrap_policy)
from vicmae_mm.models.utils.cpu_kernels import (kernel_choices,
                                                reset_kernel_choices)


def _ours(model):
    return lambda views, noise: model.loss(views, mask_noise=noise)


@pytest.mark.parametrize('overrides', [
    dict(),
    dict(bb_mask_ratio=0.75,
         pool_neck=dict(
             type='TokenPoolingNeck', in_channels=32, pool_type='gem')),
    dict(loss_weights=dict(rec=1.0, nce=0.0)),
])
def test_optimised_equals_reference(overrides):
    model = build(tiny_model_cfg(**overrides))
    views, noise = pair_and_noise()
    ours = loss_and_grads(_ours(model), model, views, noise)
    ref = loss_and_grads(ReferenceViCMAE(model).loss, model, views, noise)
    assert_same(ours, ref)
    # the masks really differ per view and matter: other noise, other loss
    other = loss_and_grads(_ours(model), model, views, noise.flip(1))
    assert not torch.allclose(other[0]['loss_rec'], ours[0]['loss_rec'])


@pytest.mark.parametrize('linear, attn', [('auto', 'auto'), ('blas', 'sdpa'),
                                          ('onednn', 'matmul'),
                                          ('onednn', 'sdpa'),
                                          ('blas', 'matmul')])
def test_optimised_equals_mmpretrain_forward(linear, attn, monkeypatch):
    """Whatever kernels are chosen (measured or forced), the fast blocks
    compute what mmpretrain's blocks compute."""
    monkeypatch.setenv('VICMAE_CPU_LINEAR', linear)
    monkeypatch.setenv('VICMAE_CPU_ATTENTION', attn)
    reset_kernel_choices()
    fast = build(tiny_model_cfg())
    stock = build(tiny_model_cfg(decoder='MAEPretrainDecoder',
                                 bb_fast_path=False),
                  state_dict=fast.state_dict())
    assert type(stock.neck) is MAEPretrainDecoder
    blocks = list(fast.backbone.layers) + list(fast.neck.decoder_blocks)
    assert all(type(b) is FastTransformerEncoderLayer for b in blocks)
    assert all(
        type(b) is TransformerEncoderLayer
        for b in list(stock.backbone.layers) + list(stock.neck.decoder_blocks))
    views, noise = pair_and_noise()
    assert_same(loss_and_grads(_ours(fast), fast, views, noise),
                loss_and_grads(_ours(stock), stock, views, noise))
    choices = kernel_choices()
    assert {k.split()[0] for k in choices} == {'linear', 'attention'}
    if linear != 'auto':
        assert {v
                for k, v in choices.items()
                if k.startswith('linear')} == {linear}
    # and the decoder's fast_path=False is the parent's forward exactly
    slow = build(tiny_model_cfg(neck_fast_path=False, bb_fast_path=False),
                 state_dict=fast.state_dict())
    a = loss_and_grads(_ours(slow), slow, views, noise)
    b = loss_and_grads(_ours(stock), stock, views, noise)
    for k in a[0]:
        assert torch.equal(a[0][k], b[0][k]), k


def test_decoder_keeps_mmpretrain_state_dict():
    kwargs = dict(num_patches=16,
                  patch_size=8,
                  embed_dim=32,
                  decoder_embed_dim=32,
                  decoder_depth=2,
                  decoder_num_heads=2)
    ours = MODELS.build(dict(type='ViCMAEPretrainDecoder', **kwargs))
    theirs = MAEPretrainDecoder(**kwargs)
    assert {k: v.shape for k, v in ours.state_dict().items()} == \
        {k: v.shape for k, v in theirs.state_dict().items()}
    with pytest.raises(ValueError, match='ViCMAEPretrainDecoder'):
        ours(torch.randn(2, 5, 32), torch.arange(9).repeat(2, 1))


@pytest.mark.parametrize('backend', ['blas', 'onednn'])
@pytest.mark.parametrize('shape, bias, residual', [
    ((6, 8), True, False),
    ((2, 5, 8), True, True),
    ((2, 5, 8), False, True),
    ((3, 4, 8), False, False),
])
def test_fast_linear_matches_linear(shape, bias, residual, backend,
                                    monkeypatch):
    monkeypatch.setenv('VICMAE_CPU_LINEAR', backend)
    reset_kernel_choices()
    g = torch.Generator().manual_seed(0)
    x = torch.randn(*shape, generator=g, requires_grad=True)
    w = torch.randn(6, 8, generator=g, requires_grad=True)
    b = torch.randn(6, generator=g, requires_grad=True) if bias else None
    r = torch.randn(*shape[:-1], 6, generator=g, requires_grad=True) \
        if residual else None
    grad_out = torch.randn(*shape[:-1], 6, generator=g)
    results = []
    for fn in (fast_linear, None):
        for t in (x, w, b, r):
            if t is not None:
                t.grad = None
        if fn is None:
            out = F.linear(x, w, b) + (r if residual else 0)
        else:
            out = fn(x, w, b, residual=r)
        out.backward(grad_out)
        results.append([out.detach()] +
                       [t.grad.clone() for t in (x, w, b, r) if t is not None])
    for a, c in zip(*results):
        assert a.shape == c.shape
        assert torch.allclose(a, c, rtol=1e-5, atol=1e-5)
    assert set(kernel_choices().values()) == {backend}


def test_fast_linear_follows_autocast():
    x, w = torch.randn(4, 8), torch.randn(6, 8)
    with torch.autocast('cpu', dtype=torch.bfloat16):
        out = fast_linear(x, w, residual=torch.zeros(4, 6))
        assert fast_linear(x, w).dtype == torch.bfloat16
    assert torch.allclose(out, x @ w.t(), rtol=2e-2, atol=5e-2)


def test_fast_block_is_a_registered_mmpretrain_block():
    kwargs = dict(embed_dims=16, num_heads=2, feedforward_channels=32)
    fast = MODELS.build(dict(type='FastTransformerEncoderLayer', **kwargs))
    stock = TransformerEncoderLayer(**kwargs)
    assert isinstance(fast, TransformerEncoderLayer)
    assert {k: v.shape for k, v in fast.state_dict().items()} == \
        {k: v.shape for k, v in stock.state_dict().items()}
    assert fast.uses_fast_forward and is_plain_vit_block(fast)
    assert vit_block_wrap_policy(fast, False, 0)


@pytest.mark.parametrize('layer_cfg', [
    dict(drop_path_rate=0.5),
    dict(layer_scale_init_value=0.1),
    dict(act_cfg=dict(type='GELU', approximate='tanh')),
])
def test_blocks_the_fast_forward_does_not_cover_run_the_parent_forward(
        layer_cfg):
    torch.manual_seed(0)
    layer = FastTransformerEncoderLayer(16, 2, 32, **layer_cfg).train()
    stock = TransformerEncoderLayer(16, 2, 32, **layer_cfg).train()
    stock.load_state_dict(layer.state_dict())
    assert not layer.uses_fast_forward and not is_plain_vit_block(layer)
    x = torch.randn(2, 5, 16)
    torch.manual_seed(1)
    expected = stock(x)
    torch.manual_seed(1)
    assert torch.equal(run_vit_blocks([layer], x), expected)
    # drop path is inactive in eval mode: the fast forward applies again
    if 'drop_path_rate' in layer_cfg:
        layer.eval()
        stock.eval()
        assert layer.uses_fast_forward
        assert torch.allclose(layer(x), stock(x), rtol=1e-5, atol=1e-6)


def test_reference_refuses_blocks_it_does_not_implement():
    # drop path grows with depth: block 0 has none, block 1 some
    model = build(tiny_model_cfg(bb_drop_path_rate=0.1))
    with pytest.raises(ValueError, match=r'backbone\.layers\.1 is not'):
        ReferenceViCMAE(model)


@pytest.mark.parametrize('dtype', [torch.bfloat16, torch.float16])
@pytest.mark.parametrize('variant', ['sdpa', 'matmul'])
def test_cpu_attention_variants_match_sdpa(dtype, variant, monkeypatch):
    """Both attention variants compute what SDPA computes (forward and all
    three input gradients) in half precision, to that precision, and in
    fp32 to float rounding; forced SDPA is SDPA bit for bit."""
    monkeypatch.setenv('VICMAE_CPU_ATTENTION', variant)
    reset_kernel_choices()
    g = torch.Generator().manual_seed(0)
    base = [torch.randn(2, 3, 17, 8, generator=g) for _ in range(3)]
    grad_out = torch.randn(2, 3, 17, 8, generator=g)

    def run(fn, dt):
        qkv = [t.to(dt).requires_grad_() for t in base]
        out = fn(*qkv)
        out.backward(grad_out.to(dt))
        return [out.float()] + [t.grad.float() for t in qkv]

    exact = run(F.scaled_dot_product_attention, torch.float64)
    for a, b in zip(run(attention, dtype), exact):
        assert torch.allclose(a, b.float(), rtol=3e-2, atol=3e-2)
    fp32 = run(attention, torch.float32)
    sdpa = run(F.scaled_dot_product_attention, torch.float32)
    for a, b in zip(fp32, sdpa):
        if variant == 'sdpa':
            assert torch.equal(a, b)
        assert torch.allclose(a, b, rtol=1e-5, atol=1e-6)
    assert set(kernel_choices().values()) == {variant}
