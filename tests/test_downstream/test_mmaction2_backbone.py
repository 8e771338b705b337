# Copyright (c) vicmae_mm contributors. All rights reserved.
"""InflatedVisionTransformer: loading the pretraining checkpoint into a
video ViT, static-clip equivalence with the image encoder, frame-wise mode,
activation checkpointing and mmaction2's layer-wise lr decay."""
import pytest
import torch

import vicmae_mm  # noqa: F401  (before mmaction.models: compat fix)
import mmaction.models  # noqa: F401,E402  (registers Recognizer3D etc.)
from helpers import TINY_ARCH, TINY_IMG, TINY_PATCH  # noqa: E402
from mmaction.registry import MODELS  # noqa: E402
from mmpretrain.models import VisionTransformer  # noqa: E402
from mmpretrain.models.utils import resize_pos_embed  # noqa: E402
from vicmae_mm.models.downstream.video import (  # noqa: E402
    InflatedVisionTransformer, inflate_patch_kernel)
from vicmae_mm.utils import safe_torch_load  # noqa: E402

NUM_FRAMES, TUBELET = 4, 2


@pytest.fixture(autouse=True)
def mmaction_scope():
    """Build in mmaction2's scope (other tests' Runners change it)."""
    from mmengine.registry import DefaultScope
    with DefaultScope.overwrite_default_scope('mmaction'):
        yield


def _video_vit(ckpt=None, **kwargs):
    cfg = dict(
        type='InflatedVisionTransformer',
        arch=TINY_ARCH,
        img_size=TINY_IMG,
        patch_size=TINY_PATCH,
        num_frames=NUM_FRAMES)
    if ckpt is not None:
        cfg['init_cfg'] = dict(
            type='Pretrained', checkpoint=ckpt, prefix='backbone.')
    cfg.update(kwargs)
    model = MODELS.build(cfg)
    model.init_weights()
    return model.eval()


def _image_vit(ckpt, **kwargs):
    """The pretrained image encoder (mmpretrain) loaded from the same file."""
    cfg = dict(
        arch=TINY_ARCH,
        img_size=TINY_IMG,
        patch_size=TINY_PATCH,
        norm_cfg=dict(type='LN', eps=1e-6),
        init_cfg=dict(type='Pretrained', checkpoint=ckpt, prefix='backbone.'))
    cfg.update(kwargs)
    model = VisionTransformer(**cfg)
    model.init_weights()
    model.eval()  # mmpretrain's train() does not return the module
    return model


def _encoder_weights(ckpt):
    state = safe_torch_load(ckpt, map_location='cpu')['state_dict']
    return {
        k[len('backbone.'):]: v
        for k, v in state.items() if k.startswith('backbone.')
    }


@pytest.mark.parametrize('kwargs,missing,unexpected', [
    (dict(), {'temporal_pos_embed', 'fc_norm.weight', 'fc_norm.bias'},
     {'cls_token'}),
    (dict(mode='framewise'), {'fc_norm.weight', 'fc_norm.bias'},
     {'cls_token'}),
    (dict(with_cls_token=True), {'temporal_pos_embed', 'fc_norm.weight',
                                 'fc_norm.bias'}, set()),
    (dict(final_norm=False, out_type='featmap'), {'temporal_pos_embed'},
     {'cls_token', 'ln1.weight', 'ln1.bias'}),
])
def test_exact_missing_and_unexpected_keys(tiny_pretrain_ckpt, kwargs,
                                           missing, unexpected):
    weights = _encoder_weights(tiny_pretrain_ckpt)
    assert 'layers.0.attn.qkv.weight' in weights  # mmpretrain names
    model = _video_vit(**kwargs)
    result = model.load_state_dict(weights, strict=False)
    assert set(result.missing_keys) == missing
    assert set(result.unexpected_keys) == unexpected
    # the caller's dict is left alone (torch copies it before the hook)
    assert 'layers.0.attn.qkv.weight' in weights


def test_weights_are_adapted_not_reinitialised(tiny_pretrain_ckpt):
    weights = _encoder_weights(tiny_pretrain_ckpt)
    model = _video_vit(tiny_pretrain_ckpt, inflate_init='center')
    state = model.state_dict()
    for i in range(TINY_ARCH['num_layers']):
        for suffix in ('ln1.weight', 'attn.qkv.weight', 'attn.proj.bias',
                       'ffn.layers.0.0.weight', 'ffn.layers.1.bias'):
            torch.testing.assert_close(state[f'blocks.{i}.{suffix}'],
                                       weights[f'layers.{i}.{suffix}'])
    torch.testing.assert_close(state['ln1.weight'], weights['ln1.weight'])
    kernel = state['patch_embed.projection.weight']
    assert kernel.shape == (32, 3, TUBELET, TINY_PATCH, TINY_PATCH)
    # centre inflation: the image kernel in frame t//2, zeros elsewhere
    torch.testing.assert_close(kernel[:, :, 1],
                               weights['patch_embed.projection.weight'])
    assert kernel[:, :, 0].abs().sum() == 0
    # fixed sin-cos positions of the patches, cls position dropped
    torch.testing.assert_close(state['pos_embed'], weights['pos_embed'][:,
                                                                        1:])
    assert state['temporal_pos_embed'].abs().sum() == 0


def test_position_embedding_resized_to_new_grid(tiny_pretrain_ckpt):
    weights = _encoder_weights(tiny_pretrain_ckpt)
    model = _video_vit(tiny_pretrain_ckpt, img_size=48, with_cls_token=True)
    assert model.pos_embed.shape == (1, 1 + 6 * 6, 32)
    expected = resize_pos_embed(weights['pos_embed'], (4, 4), (6, 6),
                                'bicubic', 1)
    torch.testing.assert_close(model.pos_embed.data, expected)
    out = model(torch.randn(1, 3, NUM_FRAMES, 48, 48))
    assert out.shape == (1, 32)


def test_inflation_is_exact_for_static_input():
    weight = torch.randn(8, 3, 4, 4)
    frame = torch.randn(2, 3, 4, 4)
    clip = frame.unsqueeze(2).repeat(1, 1, 3, 1, 1)
    for mode in ('average', 'center'):
        kernel = inflate_patch_kernel(weight, 3, mode)
        video = torch.nn.functional.conv3d(clip, kernel)[:, :, 0]
        image = torch.nn.functional.conv2d(frame, weight)
        torch.testing.assert_close(video, image)
    with pytest.raises(ValueError, match='unknown inflation mode'):
        inflate_patch_kernel(weight, 2, 'zero')


@pytest.mark.parametrize('inflate_init', ['average', 'center'])
def test_static_clip_equals_image_encoder(tiny_pretrain_ckpt, inflate_init):
    """A clip of one repeated frame gives the image encoder's pooled feature.

    Requires: exact inflation, the same spatial positions at every time step
    and a zero temporal embedding, no cls token (a single one would get T'
    times less attention than in the image), the pretrained per-token norm
    before pooling and the same norm after it.
    """
    torch.manual_seed(0)
    video = _video_vit(tiny_pretrain_ckpt, inflate_init=inflate_init)
    image = _image_vit(
        tiny_pretrain_ckpt, with_cls_token=False, out_type='avg_featmap')
    # make the pooled norm non-trivial, and identical on both sides
    with torch.no_grad():
        video.fc_norm.weight.normal_()
        video.fc_norm.bias.normal_()
    image.ln2.load_state_dict(video.fc_norm.state_dict())

    frames = torch.randn(2, 3, TINY_IMG, TINY_IMG)
    clip = frames.unsqueeze(2).repeat(1, 1, NUM_FRAMES, 1, 1)
    with torch.no_grad():
        expected = image(frames)[0]
        got = video(clip)
        assert (got - expected).abs().max() <= 1e-4
        # the property depends on the temporal embedding being zero
        video.temporal_pos_embed.normal_()
        assert (video(clip) - expected).abs().max() > 1e-3


def test_framewise_is_image_encoder_per_frame(tiny_pretrain_ckpt):
    torch.manual_seed(0)
    video = _video_vit(tiny_pretrain_ckpt, mode='framewise')
    assert video.tubelet_size == 1 and video.temporal_pos_embed is None
    image = _image_vit(
        tiny_pretrain_ckpt, with_cls_token=False, out_type='featmap')
    clip = torch.randn(2, 3, NUM_FRAMES, TINY_IMG, TINY_IMG)  # frames differ
    with torch.no_grad():
        per_frame = image(clip.transpose(1, 2).flatten(0, 1))[0]
        pooled = per_frame.mean(dim=(2, 3)).reshape(2, NUM_FRAMES, -1)
        expected = video.fc_norm(pooled.mean(dim=1))
        torch.testing.assert_close(video(clip), expected, atol=1e-5,
                                   rtol=1e-5)


def test_only_joint_mode_can_tell_motion_direction():
    """Frame-wise pooling is blind to frame order; joint attention with a
    (learned, here random) temporal embedding is not."""
    torch.manual_seed(0)
    clip = torch.randn(2, 3, NUM_FRAMES, TINY_IMG, TINY_IMG)
    reverse = clip.flip(2)
    framewise = _video_vit(mode='framewise')
    joint = _video_vit()
    with torch.no_grad():
        joint.temporal_pos_embed.normal_()
        torch.testing.assert_close(
            framewise(clip), framewise(reverse), atol=1e-5, rtol=1e-5)
        assert (joint(clip) - joint(reverse)).abs().max() > 1e-2


def test_featmap_output_and_clip_checks():
    model = _video_vit(out_type='featmap')
    feat = model(torch.randn(2, 3, NUM_FRAMES, TINY_IMG, TINY_IMG))
    assert feat.shape == (2, 32, NUM_FRAMES // TUBELET, 4, 4)
    with pytest.raises(ValueError, match='not divisible'):
        model(torch.randn(1, 3, 3, TINY_IMG, TINY_IMG))
    with pytest.raises(ValueError, match='expects'):
        model(torch.randn(1, 3, TINY_IMG, TINY_IMG))


def test_activation_checkpointing_matches_plain_forward():
    torch.manual_seed(0)
    plain = _video_vit(drop_path_rate=0.0).train()
    with_cp = _video_vit(drop_path_rate=0.0, with_cp=True).train()
    with_cp.load_state_dict(plain.state_dict())
    clip = torch.randn(2, 3, NUM_FRAMES, TINY_IMG, TINY_IMG)
    outs, grads = [], []
    for model in (plain, with_cp):
        out = model(clip)
        out.square().sum().backward()
        outs.append(out.detach())
        grads.append(model.blocks[0].attn.qkv.weight.grad.clone())
    torch.testing.assert_close(outs[0], outs[1])
    torch.testing.assert_close(grads[0], grads[1])


def test_drop_path_is_linear_over_depth():
    from mmcv.cnn.bricks.drop import DropPath
    model = _video_vit(drop_path_rate=0.3)
    rates = [{round(m.drop_prob, 6)
              for m in block.modules() if isinstance(m, DropPath)}
             for block in model.blocks]
    assert rates == [{0.0}, {0.3}]


def test_video_checkpoint_round_trip_is_untouched(tiny_pretrain_ckpt):
    source = _video_vit(tiny_pretrain_ckpt)
    with torch.no_grad():
        source.temporal_pos_embed.normal_()
    target = _video_vit()
    target.load_state_dict(source.state_dict(), strict=True)
    for k, v in source.state_dict().items():
        torch.testing.assert_close(target.state_dict()[k], v)


def test_wrong_arch_checkpoint_is_an_error(tiny_pretrain_ckpt):
    wide = dict(TINY_ARCH, embed_dims=64, feedforward_channels=128)
    with pytest.raises(ValueError, match='pos_embed has 32 channels'):
        _video_vit(tiny_pretrain_ckpt, arch=wide)
    other_patch = _video_vit(patch_size=4, img_size=TINY_IMG)
    with pytest.raises(ValueError,
                       match='patch_embed.projection.weight: checkpoint'):
        other_patch.load_state_dict(_encoder_weights(tiny_pretrain_ckpt),
                                    strict=False)


@pytest.mark.parametrize('kwargs,match', [
    (dict(mode='framewise', tubelet_size=2), 'tubelet_size must be 1'),
    (dict(mode='divided'), 'mode must be one of'),
    (dict(num_frames=5), 'multiple of tubelet_size'),
    (dict(inflate_init='zero'), 'inflate_init must be one of'),
    (dict(out_type='cls_token'), 'needs with_cls_token=True'),
    (dict(img_size=30), 'divisible by patch_size'),
    (dict(arch='tiny'), 'unknown arch'),
])
def test_bad_arguments_name_the_field(kwargs, match):
    cfg = dict(arch=TINY_ARCH, img_size=TINY_IMG, patch_size=TINY_PATCH,
               num_frames=NUM_FRAMES)
    cfg.update(kwargs)
    with pytest.raises(ValueError, match=match):
        InflatedVisionTransformer(**cfg)


def test_mmaction_layer_decay_constructor_groups_blocks():
    from mmengine.optim import build_optim_wrapper
    recognizer = MODELS.build(
        dict(
            type='Recognizer3D',
            backbone=dict(
                type='InflatedVisionTransformer',
                arch=TINY_ARCH,
                img_size=TINY_IMG,
                patch_size=TINY_PATCH,
                num_frames=NUM_FRAMES),
            cls_head=dict(
                type='TimeSformerHead', num_classes=2, in_channels=32)))
    decay = 0.5
    wrapper = build_optim_wrapper(
        recognizer,
        dict(
            optimizer=dict(type='AdamW', lr=1.0, weight_decay=0.05),
            constructor='LearningRateDecayOptimizerConstructor',
            paramwise_cfg=dict(
                decay_rate=decay,
                decay_type='layer_wise',
                num_layers=TINY_ARCH['num_layers'])))
    scale = {
        name: group['lr_scale']
        for group in wrapper.optimizer.param_groups
        for name in group['param_names']
    }
    assert len(scale) == len(list(recognizer.parameters()))
    n = TINY_ARCH['num_layers']
    assert scale['backbone.patch_embed.projection.weight'] == decay**(n + 1)
    assert scale['backbone.pos_embed'] == decay**(n + 1)
    for i in range(n):
        assert scale[f'backbone.blocks.{i}.attn.qkv.weight'] == decay**(n - i)
    # new parameters and the head train at the full rate
    for name in ('backbone.temporal_pos_embed', 'backbone.fc_norm.weight',
                 'cls_head.fc_cls.weight'):
        assert scale[name] == 1.0
