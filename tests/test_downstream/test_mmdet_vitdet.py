# Copyright (c) vicmae_mm contributors. All rights reserved.
"""ViTDet backbone, relative-position attention and simple feature pyramid
(mmdet side of the checkpoint contract), on tiny sizes."""
import logging
import re

import pytest
import torch
import torch.nn.functional as F
from mmdet.registry import MODELS
from mmengine.logging import MMLogger
from mmengine.registry import DefaultScope
from mmengine.runner.checkpoint import _load_checkpoint_with_prefix
from mmpretrain.models.backbones.vit_sam import Attention as SAMAttention

import vicmae_mm  # noqa: F401
from helpers import TINY_ARCH, TINY_IMG, TINY_PATCH
from vicmae_mm.models.downstream.detection import RelPosAttention, ViTDet

TINY_LAYERS = TINY_ARCH['num_layers']
# What loading a ViC-MAE pretraining checkpoint leaves unmatched, by design
EXPECTED_MISSING = {
    f'layers.{i}.attn.rel_pos_{axis}'
    for i in range(TINY_LAYERS) for axis in 'hw'
}
EXPECTED_UNEXPECTED = {'cls_token', 'ln1.weight', 'ln1.bias'}


def tiny_vitdet(**kwargs) -> ViTDet:
    cfg = dict(
        type='ViTDet',
        arch=TINY_ARCH,
        img_size=64,
        patch_size=TINY_PATCH,
        window_size=4,
        global_attn_indexes=(1, ),
        drop_path_rate=0.)
    cfg.update(kwargs)
    with DefaultScope.overwrite_default_scope('mmdet'):
        return MODELS.build(cfg)


class LogCapture(logging.Handler):
    """Collects the messages of mmengine's current logger."""

    def __init__(self):
        super().__init__(level=logging.DEBUG)
        self.messages = []

    def emit(self, record):
        self.messages.append(record.getMessage())

    def key_set(self, title: str) -> set:
        found = set()
        for msg in self.messages:
            for line in msg.splitlines():
                m = re.match(rf'{title} in source state_dict: (.*)$', line)
                if m:
                    found |= {k.strip() for k in m.group(1).split(',')}
        return found


@pytest.fixture
def log_capture():
    logger = MMLogger.get_current_instance()
    handler = LogCapture()
    logger.addHandler(handler)
    yield handler
    logger.removeHandler(handler)


class TestRelPosAttention:

    @pytest.mark.parametrize('hw', [(4, 4), (5, 3)])
    def test_matches_mmpretrain_reference(self, hw):
        """SDPA with the decomposed bias == SAM/ViTDet's explicit softmax."""
        torch.manual_seed(0)
        ours = RelPosAttention(32, 4, use_rel_pos=True, input_size=(4, 4))
        ref = SAMAttention(32, 4, use_rel_pos=True, input_size=(4, 4))
        with torch.no_grad():
            ours.rel_pos_h.normal_(0, 0.5)
            ours.rel_pos_w.normal_(0, 0.5)
        # same parameter names: the reference loads our weights strictly
        ref.load_state_dict(ours.state_dict(), strict=True)
        x = torch.randn(2, *hw, 32)
        torch.testing.assert_close(ours(x), ref(x), atol=1e-5, rtol=1e-5)
        # the bias matters: zero tables give a different result
        with torch.no_grad():
            ours.rel_pos_h.zero_()
        assert not torch.allclose(ours(x), ref(x), atol=1e-4)

    def test_rel_pos_zero_initialised_and_validated(self):
        attn = RelPosAttention(16, 2, use_rel_pos=True, input_size=(3, 5))
        assert attn.rel_pos_h.shape == (5, 8)
        assert attn.rel_pos_w.shape == (9, 8)
        assert not attn.rel_pos_h.any() and not attn.rel_pos_w.any()
        with pytest.raises(ValueError, match='input_size'):
            RelPosAttention(16, 2, use_rel_pos=True)
        with pytest.raises(ValueError, match='not divisible'):
            RelPosAttention(16, 3)


class TestViTDet:

    def test_windows_global_blocks_and_output(self):
        model = tiny_vitdet()
        assert [layer.window_size for layer in model.layers] == [4, 0]
        # rel tables: window-sized for windowed, grid-sized for global
        assert model.layers[0].attn.rel_pos_h.shape[0] == 2 * 4 - 1
        assert model.layers[1].attn.rel_pos_h.shape[0] == 2 * 8 - 1
        outs = model(torch.randn(2, 3, 64, 64))
        assert len(outs) == 1 and outs[0].shape == (2, 32, 8, 8)
        # other sizes: pos embed interpolated, windows padded (9x5 grid)
        assert model(torch.randn(1, 3, 72, 40))[0].shape == (1, 32, 9, 5)

    @pytest.mark.parametrize('num_layers,expected', [
        (12, (2, 5, 8, 11)),
        (24, (5, 11, 17, 23)),
        (32, (7, 15, 23, 31)),
    ])
    def test_default_global_blocks_end_each_quarter(self, num_layers,
                                                    expected):
        arch = dict(
            embed_dims=8, num_layers=num_layers, num_heads=1,
            feedforward_channels=8)
        model = tiny_vitdet(arch=arch, global_attn_indexes=None)
        assert model.global_attn_indexes == expected
        windowed = [i for i, layer in enumerate(model.layers)
                    if layer.window_size]
        assert set(windowed) == set(range(num_layers)) - set(expected)

    def test_bad_configs_raise(self):
        with pytest.raises(ValueError, match='out of range'):
            tiny_vitdet(global_attn_indexes=(2, ))
        with pytest.raises(ValueError, match='not divisible'):
            tiny_vitdet(img_size=60)
        with pytest.raises(ValueError, match='unknown arch'):
            tiny_vitdet(arch='tiny')
        with pytest.raises(ValueError, match='custom arch'):
            tiny_vitdet(arch=dict(embed_dims=8))

    def test_drop_path_is_linear_over_blocks(self):
        arch = dict(
            embed_dims=8, num_layers=5, num_heads=1, feedforward_channels=8)
        model = tiny_vitdet(arch=arch, drop_path_rate=0.4)
        rates = [layer.drop_path.drop_prob for layer in model.layers]
        assert rates == pytest.approx([0., 0.1, 0.2, 0.3, 0.4])
        assert [layer.ffn.dropout_layer.drop_prob
                for layer in model.layers] == pytest.approx(rates)

    def test_activation_checkpointing_same_values_and_grads(self):
        torch.manual_seed(0)
        plain = tiny_vitdet()
        plain.init_weights()
        ckpt = tiny_vitdet(with_cp=True)
        ckpt.load_state_dict(plain.state_dict())
        x = torch.randn(2, 3, 64, 64)
        results = []
        for model in (plain, ckpt):
            model.train()
            model.zero_grad()
            out = model(x)[0]
            out.square().mean().backward()
            results.append((out.detach(), {
                n: p.grad.clone()
                for n, p in model.named_parameters()
            }))
        torch.testing.assert_close(results[0][0], results[1][0])
        for name, grad in results[0][1].items():
            torch.testing.assert_close(grad, results[1][1][name])

    def test_frozen_backbone_gets_no_gradient_and_stays_in_eval(self):
        model = tiny_vitdet(frozen_stages=TINY_LAYERS, drop_path_rate=0.3)
        model.init_weights()
        model.train()
        trainable = [n for n, p in model.named_parameters() if p.requires_grad]
        assert trainable == []
        # frozen blocks run deterministically in train mode (no drop path)
        x = torch.randn(2, 3, 64, 64)
        torch.testing.assert_close(model(x)[0], model(x)[0])
        assert not any(m.training for m in model.layers)
        # partly frozen: embeddings and the first block only
        part = tiny_vitdet(frozen_stages=1).train()
        frozen = {n for n, p in part.named_parameters() if not p.requires_grad}
        assert {'pos_embed', 'patch_embed.projection.weight'} <= frozen
        assert all(n.startswith(('pos_embed', 'patch_embed', 'layers.0.'))
                   for n in frozen)
        assert part.layers[1].training and not part.layers[0].training
        with pytest.raises(ValueError, match='frozen_stages'):
            tiny_vitdet(frozen_stages=TINY_LAYERS + 1)

    def test_loads_pretraining_checkpoint(self, tiny_pretrain_ckpt,
                                          log_capture):
        """init_cfg Pretrained with prefix='backbone.': pinned key sets,
        weights copied, cls position dropped, grid interpolated."""
        model = tiny_vitdet(
            init_cfg=dict(
                type='Pretrained',
                checkpoint=tiny_pretrain_ckpt,
                prefix='backbone.'))
        model.init_weights()
        assert log_capture.key_set('missing keys') == EXPECTED_MISSING
        assert log_capture.key_set('unexpected key') == EXPECTED_UNEXPECTED

        ckpt = _load_checkpoint_with_prefix('backbone.', tiny_pretrain_ckpt)
        own = model.state_dict()
        loaded = set(ckpt) - EXPECTED_UNEXPECTED - {'pos_embed'}
        assert loaded and loaded == set(own) - EXPECTED_MISSING - {
            'pos_embed'
        }
        for key in loaded:
            torch.testing.assert_close(own[key], ckpt[key], msg=key)
        for key in EXPECTED_MISSING:
            assert not own[key].any(), f'{key} must start at zero'
        # pos_embed: cls position dropped, 4x4 grid -> 8x8 (bicubic)
        grid = TINY_IMG // TINY_PATCH
        src = ckpt['pos_embed'][:, 1:].reshape(1, grid, grid, -1)
        expected = F.interpolate(
            src.permute(0, 3, 1, 2), size=(8, 8), mode='bicubic',
            align_corners=False).permute(0, 2, 3, 1)
        torch.testing.assert_close(own['pos_embed'], expected)

    def test_same_grid_keeps_pos_embed_exactly(self, tiny_pretrain_ckpt):
        model = tiny_vitdet(img_size=TINY_IMG, window_size=2)
        ckpt = _load_checkpoint_with_prefix('backbone.', tiny_pretrain_ckpt)
        result = model.load_state_dict(ckpt, strict=False)
        assert set(result.missing_keys) == EXPECTED_MISSING
        assert set(result.unexpected_keys) == EXPECTED_UNEXPECTED
        grid = TINY_IMG // TINY_PATCH
        torch.testing.assert_close(
            model.pos_embed.data,
            ckpt['pos_embed'][:, 1:].reshape(1, grid, grid, -1))

    def test_wrong_checkpoints_are_refused(self, tiny_pretrain_ckpt):
        ckpt = _load_checkpoint_with_prefix('backbone.', tiny_pretrain_ckpt)
        with pytest.raises(ValueError, match='patch_embed.projection.weight'):
            tiny_vitdet(patch_size=16).load_state_dict(ckpt, strict=False)
        wide = dict(TINY_ARCH, embed_dims=64)
        with pytest.raises(ValueError, match='pos_embed has width 32'):
            tiny_vitdet(arch=wide).load_state_dict(ckpt, strict=False)
        bad = dict(ckpt, pos_embed=ckpt['pos_embed'][:, :15])
        with pytest.raises(ValueError, match='neither a square grid'):
            tiny_vitdet().load_state_dict(bad, strict=False)

    def test_rel_pos_tables_resized_on_load(self):
        src = tiny_vitdet(window_size=2)
        with torch.no_grad():
            src.layers[0].attn.rel_pos_h.normal_()
        dst = tiny_vitdet(window_size=4)
        result = dst.load_state_dict(src.state_dict(), strict=False)
        assert not result.missing_keys and not result.unexpected_keys
        assert dst.layers[0].attn.rel_pos_h.shape == (7, 16)
        assert dst.layers[0].attn.rel_pos_h.abs().sum() > 0

    def test_layer_depth(self):
        model = tiny_vitdet()
        assert model.get_layer_depth('backbone.pos_embed', 'backbone.') == \
            (0, 4)
        assert model.get_layer_depth('backbone.patch_embed.projection.bias',
                                     'backbone.') == (0, 4)
        assert model.get_layer_depth('backbone.layers.1.attn.qkv.weight',
                                     'backbone.') == (2, 4)
        assert model.get_layer_depth('neck.stages.0.weight',
                                     'backbone.') == (3, 4)


class TestSimpleFeaturePyramid:

    def build(self, **kwargs):
        cfg = dict(type='SimpleFeaturePyramid', in_channels=32,
                   out_channels=16)
        cfg.update(kwargs)
        with DefaultScope.overwrite_default_scope('mmdet'):
            return MODELS.build(cfg)

    def test_levels_and_norms(self):
        neck = self.build()
        neck.init_weights()
        feat = torch.randn(2, 32, 8, 8)  # stride 16 of a 128 px image
        outs = neck((feat, ))
        assert [o.shape[-1] for o in outs] == [32, 16, 8, 4, 2]
        assert all(o.shape[:2] == (2, 16) for o in outs)
        # 2-D LayerNorm after every 1x1 and 3x3 conv, and in the x4 path
        norms = [m for m in neck.modules()
                 if type(m).__name__ == 'LayerNorm2d']
        assert len(norms) == 2 * 4 + 1
        assert neck.lateral_convs[0].conv.bias is None

    def test_retinanet_style_levels(self):
        neck = self.build(scale_factors=(2.0, 1.0, 0.5), num_outs=5)
        outs = neck(torch.randn(1, 32, 8, 8))
        assert [o.shape[-1] for o in outs] == [16, 8, 4, 2, 1]

    def test_bad_arguments_raise(self):
        with pytest.raises(ValueError, match='scale_factors'):
            self.build(scale_factors=(8.0, 1.0))
        with pytest.raises(ValueError, match='fine to coarse'):
            self.build(scale_factors=(1.0, 2.0))
        with pytest.raises(ValueError, match='num_outs'):
            self.build(num_outs=2)
        neck = self.build()
        with pytest.raises(ValueError, match='one backbone map'):
            neck((torch.randn(1, 32, 4, 4), torch.randn(1, 32, 2, 2)))
        with pytest.raises(ValueError, match='input channels'):
            neck(torch.randn(1, 16, 4, 4))
