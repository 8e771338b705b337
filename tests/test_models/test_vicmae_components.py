# Copyright (c) vicmae_mm contributors. All rights reserved.
"""Unit tests of the ViC-MAE components on tiny sizes."""
import math

import pytest
import torch
import torch.nn.functional as F
from mmengine.config import Config
from mmpretrain.registry import MODELS

import vicmae_mm  # noqa: F401
from helpers import TINY_ARCH, TINY_PRETRAIN_CFG


def build_tiny_model(**overrides):
    cfg = Config.fromfile(TINY_PRETRAIN_CFG)
    model_cfg = cfg.model
    for key, value in overrides.items():
        model_cfg[key] = value
    torch.manual_seed(0)
    model = MODELS.build(model_cfg)
    model.init_weights()
    return model


def pair(b=4, size=32):
    g = torch.Generator().manual_seed(1)
    return [torch.randn(b, 3, size, size, generator=g) for _ in range(2)]


class TestViCMAEViT:

    def test_visible_tokens_exact(self):
        backbone = MODELS.build(
            dict(type='ViCMAEViT', arch=TINY_ARCH, img_size=32,
                 patch_size=8, mask_ratio=0.5))
        latent, mask, ids_restore = backbone(torch.randn(3, 3, 32, 32))
        keep = int(16 * (1 - 0.5))
        assert latent.shape == (3, 1 + keep, 32)
        assert mask.shape == (3, 16)
        # each sample keeps exactly int(L * (1 - r)) tokens
        assert torch.equal(mask.sum(1), torch.full((3, ), 16.0 - keep))
        assert ids_restore.shape == (3, 16)

    @pytest.mark.parametrize('ratio', [0.0, 0.3, 0.75, 0.9])
    def test_mask_ratio_counts(self, ratio):
        backbone = MODELS.build(
            dict(type='ViCMAEViT', arch=TINY_ARCH, img_size=32,
                 patch_size=8, mask_ratio=ratio))
        latent, mask, _ = backbone(torch.randn(2, 3, 32, 32))
        keep = int(16 * (1 - ratio))
        assert latent.shape[1] == 1 + keep
        assert (mask.sum(1) == 16 - keep).all()

    def test_noise_drives_mask_and_matches_gather(self):
        backbone = MODELS.build(
            dict(type='ViCMAEViT', arch=TINY_ARCH, img_size=32,
                 patch_size=8))
        x = torch.randn(2, 16, 32)
        noise = torch.rand(2, 16)
        kept, mask, ids_restore = backbone.random_masking(x, 0.5, noise)
        order = noise.argsort(1)[:, :8]
        expected = torch.stack([x[i, order[i]] for i in range(2)])
        assert torch.equal(kept, expected)
        for i in range(2):
            assert set(mask[i].nonzero().flatten().tolist()) == set(
                noise.argsort(1)[i, 8:].tolist())
        # ids_restore inverts the shuffle
        shuffled = torch.cat([kept, torch.zeros(2, 8, 32)], 1)
        restored = torch.stack(
            [shuffled[i, ids_restore[i]] for i in range(2)])
        assert torch.equal(restored[mask == 0], x[mask == 0])

    def test_unmasked_path_returns_all_tokens(self):
        backbone = MODELS.build(
            dict(type='ViCMAEViT', arch=TINY_ARCH, img_size=32,
                 patch_size=8))
        out = backbone(torch.randn(2, 3, 32, 32), mask=False)
        assert isinstance(out, tuple) and out[-1].shape == (2, 17, 32)

    def test_small_arch_is_standard_vit_s(self):
        backbone = MODELS.build(dict(type='ViCMAEViT', arch='small'))
        assert backbone.embed_dims == 384 and len(backbone.layers) == 12
        assert backbone.layers[0].attn.num_heads == 6

    @pytest.mark.parametrize('kwargs, msg', [
        (dict(mask_ratio=1.0), 'mask_ratio'),
        (dict(mask_ratio=-0.1), 'mask_ratio'),
        (dict(img_size=30), 'divisible'),
        (dict(arch='gigantic'), 'unknown arch'),
    ])
    def test_bad_config_values(self, kwargs, msg):
        cfg = dict(type='ViCMAEViT', arch=TINY_ARCH, img_size=32,
                   patch_size=8)
        cfg.update(kwargs)
        with pytest.raises(ValueError, match=msg):
            MODELS.build(cfg)

    def test_wrong_input_size(self):
        backbone = MODELS.build(
            dict(type='ViCMAEViT', arch=TINY_ARCH, img_size=32,
                 patch_size=8))
        with pytest.raises(ValueError, match='patches'):
            backbone(torch.randn(1, 3, 48, 48))

    def test_keys_match_mmpretrain_vit(self):
        from mmpretrain.models import VisionTransformer
        ours = MODELS.build(
            dict(type='ViCMAEViT', arch=TINY_ARCH, img_size=32,
                 patch_size=8))
        theirs = VisionTransformer(
            arch=TINY_ARCH, img_size=32, patch_size=8, out_type='raw')
        assert set(ours.state_dict()) == set(theirs.state_dict())


class TestTokenPoolingNeck:

    @pytest.mark.parametrize('pool', ['mean', 'max', 'gem', 'cls', 'attn'])
    def test_modes(self, pool):
        neck = MODELS.build(
            dict(type='TokenPoolingNeck', in_channels=32, pool_type=pool,
                 attn_heads=2))
        tokens = torch.randn(3, 9, 32, requires_grad=True)
        out = neck(tokens)
        assert out.shape == (3, 32)
        out.sum().backward()
        grad = tokens.grad
        if pool == 'cls':
            assert grad[:, 1:].abs().sum() == 0 and grad[:, 0].abs().sum() > 0
        else:
            # cls token excluded from every patch pooling
            assert grad[:, 0].abs().sum() == 0
        if pool == 'mean':
            assert torch.allclose(out, tokens[:, 1:].mean(1))
        if pool == 'max':
            assert torch.allclose(out, tokens[:, 1:].amax(1))

    def test_unknown_pool_type(self):
        with pytest.raises(ValueError, match='pool_type'):
            MODELS.build(
                dict(type='TokenPoolingNeck', in_channels=8,
                     pool_type='median'))


class TestInfoNCEHead:

    def test_matches_hand_computation(self):
        torch.manual_seed(0)
        z1, z2 = torch.randn(3, 5), torch.randn(3, 5)
        tau = 0.1
        head = MODELS.build(dict(type='InfoNCEHead', temperature=tau))
        loss, acc = head.loss(z1, z2)
        # explicit NT-Xent: each of 2N anchors vs 2N-1 others
        z = [F.normalize(v, dim=0) for v in torch.cat([z1, z2])]
        n = 3
        total = 0.0
        correct = 0
        for i in range(2 * n):
            pos = i + n if i < n else i - n
            sims = {j: float(z[i] @ z[j]) / tau
                    for j in range(2 * n) if j != i}
            denom = sum(math.exp(s) for s in sims.values())
            total += -math.log(math.exp(sims[pos]) / denom)
            correct += max(sims, key=sims.get) == pos
        assert loss.item() == pytest.approx(total / (2 * n), rel=1e-5)
        assert acc.item() == pytest.approx(100 * correct / (2 * n))

    def test_perfect_pairs(self):
        z = torch.eye(4)
        loss, acc = MODELS.build(dict(type='InfoNCEHead')).loss(z, z)
        assert acc.item() == 100
        assert loss.item() < 1e-3

    @pytest.mark.parametrize('tau', [0, -0.5])
    def test_bad_temperature(self, tau):
        with pytest.raises(ValueError, match='temperature'):
            MODELS.build(dict(type='InfoNCEHead', temperature=tau))


class TestViCMAE:

    def test_losses_finite_and_all_params_get_grad(self):
        model = build_tiny_model()
        model.train()
        losses = model.loss(pair())
        assert set(losses) == {'loss_rec', 'loss_nce', 'nce_acc'}
        for value in losses.values():
            assert torch.isfinite(value)
        (losses['loss_rec'] + losses['loss_nce']).backward()
        for name, param in model.named_parameters():
            if param.requires_grad:
                assert param.grad is not None, name
                assert torch.isfinite(param.grad).all(), name
                assert param.grad.abs().sum() > 0, name

    def test_loss_weights_are_applied(self):
        model = build_tiny_model()
        noise = torch.rand(8, 16)
        torch.manual_seed(3)
        ref = model.loss(pair(), mask_noise=noise)
        model.loss_weights = dict(rec=1.0, nce=1.0)
        torch.manual_seed(3)
        raw = model.loss(pair(), mask_noise=noise)
        assert torch.allclose(ref['loss_rec'], 0.97 * raw['loss_rec'])
        assert torch.allclose(ref['loss_nce'], 0.03 * raw['loss_nce'])

    def test_nce_weight_zero_is_plain_mae(self):
        model = build_tiny_model(loss_weights=dict(rec=1.0, nce=0.0))
        assert not hasattr(model, 'projector')
        losses = model.loss(pair())
        assert set(losses) == {'loss_rec'}

    def test_extract_feat_pools_unmasked(self):
        model = build_tiny_model()
        model.eval()
        feats = model.extract_feat(pair()[0])
        tokens = model.backbone(pair()[0], mask=False)[-1]
        assert feats.shape == (4, 32)
        assert torch.allclose(feats, tokens[:, 1:].mean(1))

    def test_rejects_single_view(self):
        model = build_tiny_model()
        with pytest.raises(ValueError, match='view'):
            model.loss([torch.randn(2, 3, 32, 32)])

    def test_bad_loss_weight(self):
        with pytest.raises(ValueError, match='loss_weights'):
            build_tiny_model(loss_weights=dict(rec=1.0, nce=-1.0))
