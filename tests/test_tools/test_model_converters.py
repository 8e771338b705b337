# Copyright (c) vicmae_mm contributors. All rights reserved.
"""Checkpoint converters: official (timm names) <-> vicmae_mm -> timm.

The official layout is built here from real modules: a tiny timm
``VisionTransformer`` encoder, an MAE decoder made of timm ``Block``s and
the projector ``nn.Sequential``; the converted weights must reproduce their
outputs in vicmae_mm's modules, and conversions must round-trip exactly.
"""
import argparse
import importlib.util
import os.path as osp
import subprocess
import sys
from collections import OrderedDict
from functools import partial

import pytest
import torch
import torch.nn as nn
from timm.models.vision_transformer import Block, VisionTransformer
from mmengine.config import Config
from mmengine.registry import DefaultScope
from mmengine.runner.checkpoint import load_checkpoint
from mmpretrain.registry import MODELS

import vicmae_mm  # noqa: F401
from helpers import REPO_ROOT, TINY_ARCH, TINY_IMG, TINY_PATCH, \
    TINY_PRETRAIN_CFG
from key_rules import (CheckpointFormatError, official_to_vicmae,
                       vicmae_to_official, vicmae_to_timm)
from vicmae_mm.utils import safe_torch_load

TOOLS = osp.join(REPO_ROOT, 'tools', 'model_converters')
DIMS, DEPTH, HEADS = (TINY_ARCH['embed_dims'], TINY_ARCH['num_layers'],
                      TINY_ARCH['num_heads'])
MLP_RATIO = TINY_ARCH['feedforward_channels'] / DIMS
NUM_PATCHES = (TINY_IMG // TINY_PATCH)**2
# tests/configs/pretrain_tiny.py: decoder 32 wide, 1 block, 2 heads,
# projector 32 -> 64 -> 64 -> 16
DEC_DIMS, DEC_DEPTH, DEC_HEADS = 32, 1, 2
PROJ_HID, PROJ_OUT = 64, 16


def _tool(name):
    spec = importlib.util.spec_from_file_location(
        f'converter_{name}', osp.join(TOOLS, f'{name}.py'))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class OfficialDecoder(nn.Module):
    """The released MAE decoder (timm blocks), written for reference."""

    def __init__(self) -> None:
        super().__init__()
        self.decoder_embed = nn.Linear(DIMS, DEC_DIMS)
        self.mask_token = nn.Parameter(torch.zeros(1, 1, DEC_DIMS))
        self.decoder_pos_embed = nn.Parameter(torch.zeros(
            1, NUM_PATCHES + 1, DEC_DIMS),
                                              requires_grad=False)
        self.decoder_blocks = nn.ModuleList([
            Block(DEC_DIMS,
                  DEC_HEADS,
                  mlp_ratio=4.,
                  qkv_bias=True,
                  norm_layer=partial(nn.LayerNorm, eps=1e-6))
            for _ in range(DEC_DEPTH)
        ])
        self.decoder_norm = nn.LayerNorm(DEC_DIMS, eps=1e-6)
        self.decoder_pred = nn.Linear(DEC_DIMS, TINY_PATCH**2 * 3)

    def forward(self, latent, ids_restore):
        x = self.decoder_embed(latent)
        b, n_masked = x.shape[0], ids_restore.shape[1] + 1 - x.shape[1]
        tokens = torch.cat(
            [x[:, 1:], self.mask_token.expand(b, n_masked, -1)], dim=1)
        order = ids_restore.unsqueeze(-1).expand(-1, -1, x.shape[-1])
        x = torch.cat([x[:, :1], tokens.gather(1, order)], dim=1)
        x = x + self.decoder_pos_embed
        for block in self.decoder_blocks:
            x = block(x)
        return self.decoder_pred(self.decoder_norm(x))[:, 1:]


def _official_projector(bias=True):
    return nn.Sequential(nn.Linear(DIMS, PROJ_HID, bias=bias),
                         nn.BatchNorm1d(PROJ_HID), nn.ReLU(inplace=True),
                         nn.Linear(PROJ_HID, PROJ_HID, bias=bias),
                         nn.BatchNorm1d(PROJ_HID), nn.ReLU(inplace=True),
                         nn.Linear(PROJ_HID, PROJ_OUT, bias=bias))


def _randomise(module, seed):
    """Distinct random values everywhere (norms and BN statistics too), so
    a swapped or missed tensor changes the outputs."""
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, tensor in module.state_dict().items():
            if name.endswith('num_batches_tracked'):
                tensor.fill_(7)
            elif name.endswith('running_var'):
                tensor.copy_(torch.rand(tensor.shape, generator=gen) + 0.5)
            else:
                tensor.copy_(
                    torch.randn(tensor.shape, generator=gen) * 0.2 +
                    (1.0 if name.endswith(('norm1.weight', 'norm2.weight',
                                           'norm.weight')) else 0.0))
    return module.eval()


def official_model(bias=True):
    """(timm encoder, decoder, projector, official state dict)."""
    encoder = _randomise(
        VisionTransformer(img_size=TINY_IMG,
                          patch_size=TINY_PATCH,
                          embed_dim=DIMS,
                          depth=DEPTH,
                          num_heads=HEADS,
                          mlp_ratio=MLP_RATIO,
                          num_classes=0,
                          global_pool='avg',
                          fc_norm=False), 1)
    decoder = _randomise(OfficialDecoder(), 2)
    projector = _randomise(_official_projector(bias), 3)
    state = OrderedDict(encoder.state_dict())
    state.update(decoder.state_dict())
    state.update(
        (f'projector.{k}', v) for k, v in projector.state_dict().items())
    return encoder, decoder, projector, state


def tiny_vicmae(bias=True):
    cfg = Config.fromfile(TINY_PRETRAIN_CFG)
    cfg.model.projector.update(with_bias=bias, with_last_bias=bias)
    with DefaultScope.overwrite_default_scope('mmpretrain'):
        return MODELS.build(cfg.model)


def _assert_identical(a, b):
    assert list(a) == list(b)
    for key in a:
        assert a[key].dtype == b[key].dtype, key
        assert torch.equal(a[key], b[key]), key


def test_official_to_vicmae_reproduces_official_modules(tmp_path, capsys):
    encoder, decoder, projector, state = official_model()
    src, dst = str(tmp_path / 'official.pth'), str(tmp_path / 'ours.pth')
    torch.save(dict(model=state, epoch=799), src)
    assert _tool('official_to_vicmae').main([src, dst]) == 0
    out = capsys.readouterr().out
    assert f'mapped {len(state)} tensors' in out
    assert 'blocks.{i}.mlp.fc1.{p} -> backbone.layers.{i}.ffn.layers.0.0.{p}' \
        in out
    assert 'ignored top-level entries: epoch' in out

    converted = safe_torch_load(dst)
    assert converted['meta']['arch']['embed_dims'] == DIMS
    model = tiny_vicmae().eval()
    # exact key sets: nothing missing, nothing unexpected
    model.load_state_dict(converted['state_dict'], strict=True)

    torch.manual_seed(0)
    images = torch.randn(3, 3, TINY_IMG, TINY_IMG)
    with torch.no_grad():
        ours = model.backbone(images, mask=False)[0]
        torch.testing.assert_close(ours,
                                   encoder.forward_features(images),
                                   atol=1e-5,
                                   rtol=0)
        latent, _, ids_restore = model.backbone(images)
        torch.testing.assert_close(model.neck(latent, ids_restore),
                                   decoder(latent, ids_restore),
                                   atol=1e-5,
                                   rtol=0)
        pooled = torch.randn(5, DIMS)
        torch.testing.assert_close(model.projector((pooled, ))[0],
                                   projector(pooled),
                                   atol=1e-5,
                                   rtol=0)
    assert model.projector.bn1.num_batches_tracked.item() == 7


@pytest.mark.parametrize('bias', [True, False])
def test_official_round_trip_is_identical(bias):
    state = official_model(bias)[3]
    ours, report = official_to_vicmae(state)
    back, _ = vicmae_to_official(ours)
    _assert_identical(back, state)
    assert ('projector.fc0.bias' in ours) is bias
    if not bias:
        assert any('with_bias=False' in n for n in report.notes)
        tiny_vicmae(bias=False).load_state_dict(ours, strict=True)


def test_vicmae_round_trip_of_a_trained_checkpoint(tiny_pretrain_ckpt):
    state = safe_torch_load(tiny_pretrain_ckpt)['state_dict']
    official, _ = vicmae_to_official(state)
    assert 'projector.4.running_mean' in official
    assert 'decoder_norm.weight' in official and 'norm.weight' in official
    _assert_identical(official_to_vicmae(official)[0], state)


def test_vicmae_to_timm_gives_the_same_features(tiny_pretrain_ckpt, tmp_path,
                                                capsys):
    dst = str(tmp_path / 'timm.pth')
    rc = _tool('vicmae_to_timm').main(
        [tiny_pretrain_ckpt, dst, '--num-heads',
         str(HEADS)])
    assert rc == 0
    out = capsys.readouterr().out
    assert 'backbone.ln1.{p} -> norm.{p}' in out
    assert "pretraining-only tensors under ['neck', 'projector']" in out
    assert f'embed_dim={DIMS}, depth={DEPTH}, num_heads={HEADS}' in out

    reference = VisionTransformer(img_size=TINY_IMG,
                                  patch_size=TINY_PATCH,
                                  embed_dim=DIMS,
                                  depth=DEPTH,
                                  num_heads=HEADS,
                                  mlp_ratio=MLP_RATIO,
                                  num_classes=0,
                                  global_pool='avg',
                                  fc_norm=False).eval()
    reference.load_state_dict(torch.load(dst, weights_only=True), strict=True)

    model = tiny_vicmae().eval()
    load_checkpoint(model, tiny_pretrain_ckpt, strict=True)
    torch.manual_seed(0)
    images = torch.randn(4, 3, TINY_IMG, TINY_IMG)
    with torch.no_grad():
        tokens = reference.forward_features(images)
        torch.testing.assert_close(tokens,
                                   model.backbone(images, mask=False)[0],
                                   atol=1e-5,
                                   rtol=0)
        # timm's mean pooling = ViC-MAE's pooled (contrastive) feature
        torch.testing.assert_close(reference.forward_head(tokens,
                                                          pre_logits=True),
                                   model.extract_feat(images),
                                   atol=1e-5,
                                   rtol=0)


def test_vicmae_to_timm_function_reports_what_it_left_out():
    state = official_to_vicmae(official_model()[3])[0]
    timm_state, report = vicmae_to_timm(state)
    assert set(timm_state) == {
        k
        for k in official_model()[3]
        if not k.startswith(('decoder', 'mask_token', 'projector'))
    }
    assert any('pretraining-only' in n for n in report.notes)


def test_extract_backbone(tiny_pretrain_ckpt, tmp_path, capsys):
    source = safe_torch_load(tiny_pretrain_ckpt)['state_dict']
    encoder_keys = [k for k in source if k.startswith('backbone.')]
    tool = _tool('extract_backbone')

    dst = str(tmp_path / 'encoder.pth')
    assert tool.main([tiny_pretrain_ckpt, dst]) == 0
    assert "left out everything under ['neck', 'projector']" in \
        capsys.readouterr().out
    # tensors and plain values only: loads weights-only with no allowlist
    extracted = torch.load(dst, weights_only=True)
    assert list(extracted['state_dict']) == encoder_keys
    for key in encoder_keys:
        assert torch.equal(extracted['state_dict'][key], source[key])
    assert extracted['meta']['prefix'] == 'backbone.'

    # mmpretrain loads it exactly like the full checkpoint
    def build(ckpt):
        with DefaultScope.overwrite_default_scope('mmpretrain'):
            backbone = MODELS.build(
                dict(type='VisionTransformer',
                     arch=dict(TINY_ARCH),
                     img_size=TINY_IMG,
                     patch_size=TINY_PATCH,
                     out_type='raw',
                     init_cfg=dict(type='Pretrained',
                                   checkpoint=ckpt,
                                   prefix='backbone.')))
        backbone.init_weights()
        return backbone.state_dict()

    _assert_identical(build(dst), build(tiny_pretrain_ckpt))

    bare = str(tmp_path / 'bare.pth')
    assert tool.main([tiny_pretrain_ckpt, bare, '--strip-prefix']) == 0
    bare_state = safe_torch_load(bare)['state_dict']
    assert list(bare_state) == [k[len('backbone.'):] for k in encoder_keys]
    # an extracted, prefix-less encoder also exports to timm
    timm_state = vicmae_to_timm(bare_state)[0]
    assert 'blocks.1.mlp.fc2.weight' in timm_state


def test_scripts_run_from_the_command_line(tiny_pretrain_ckpt, tmp_path):
    dst = str(tmp_path / 'enc.pth')
    result = subprocess.run([
        sys.executable,
        osp.join(TOOLS, 'extract_backbone.py'), tiny_pretrain_ckpt, dst
    ],
                            capture_output=True,
                            text=True,
                            cwd=REPO_ROOT,
                            timeout=300)
    assert result.returncode == 0, result.stderr
    assert 'mapped 30 tensors' in result.stdout
    assert osp.isfile(dst)


def _official_file(tmp_path, state, name='official.pth', **extra):
    path = str(tmp_path / name)
    torch.save(dict(model=state, **extra), path)
    return path


def test_converters_refuse_what_they_do_not_understand(tiny_pretrain_ckpt,
                                                       tmp_path, capsys):
    official_tool = _tool('official_to_vicmae')
    timm_tool = _tool('vicmae_to_timm')
    extract_tool = _tool('extract_backbone')
    out = str(tmp_path / 'out.pth')
    state = official_model()[3]

    def refused(tool, src, *needles):
        assert tool.main([src, out]) == 1
        err = capsys.readouterr().err
        for needle in needles:
            assert needle in err, err
        assert not osp.exists(out)

    # a vicmae_mm checkpoint is not an official one
    refused(official_tool, tiny_pretrain_ckpt,
            'already a vicmae_mm checkpoint')
    # a fine-tuned official classifier: head/fc_norm have no place
    extra = OrderedDict(
        state, **{
            'head.weight': torch.zeros(10, DIMS),
            'fc_norm.weight': torch.ones(DIMS)
        })
    refused(official_tool, _official_file(tmp_path, extra, 'ft.pth'),
            '2 unrecognised key(s): fc_norm.weight, head.weight')
    # a projector ReLU index cannot hold weights
    relu = OrderedDict(state, **{'projector.2.weight': torch.ones(3)})
    refused(official_tool, _official_file(tmp_path, relu, 'relu.pth'),
            'projector.2.weight')
    # an incomplete block is reported, not silently half-converted
    broken = OrderedDict(
        (k, v) for k, v in state.items() if k != 'blocks.1.mlp.fc2.weight')
    refused(official_tool, _official_file(tmp_path, broken, 'broken.pth'),
            'block backbone.layers.1 is incomplete', 'ffn.layers.1.weight')
    # official input to the vicmae_mm tools
    official = _official_file(tmp_path, state)
    refused(timm_tool, official, 'official ViC-MAE checkpoint',
            'official_to_vicmae.py')
    refused(extract_tool, official, 'official_to_vicmae.py')
    # a fine-tuned mmpretrain classifier is not a pretraining encoder
    finetuned = safe_torch_load(tiny_pretrain_ckpt)
    finetuned['state_dict']['backbone.ln2.weight'] = torch.ones(DIMS)
    finetuned['state_dict']['head.fc.weight'] = torch.ones(3, DIMS)
    ft_path = str(tmp_path / 'classifier.pth')
    torch.save(finetuned, ft_path)
    refused(timm_tool, ft_path, 'backbone.ln2.weight', 'head.fc.weight')
    # a missing file
    refused(extract_tool, str(tmp_path / 'nope.pth'), 'can not be found')
    # neither layout
    odd = str(tmp_path / 'odd.pth')
    torch.save(dict(weights=torch.ones(1), step=3), odd)
    refused(official_tool, odd, 'not an official ViC-MAE checkpoint')
    refused(extract_tool, odd, 'not a vicmae_mm checkpoint')


def test_official_file_with_pickled_args_needs_explicit_trust(
        tmp_path, capsys):
    """MAE-style training checkpoints store their ``argparse.Namespace``;
    unpickling it is refused unless the user opts in."""
    state = official_model()[3]
    src = _official_file(tmp_path,
                         state,
                         args=argparse.Namespace(model='vicmae_vit_large'))
    dst = str(tmp_path / 'ours.pth')
    tool = _tool('official_to_vicmae')
    assert tool.main([src, dst]) == 1
    err = capsys.readouterr().err
    assert 'Refusing to load checkpoint' in err and 'argparse' in err
    assert not osp.exists(dst)
    with pytest.warns(UserWarning, match='trusted checkpoint'):
        assert tool.main([src, dst, '--trust-checkpoint']) == 0
    assert 'ignored top-level entries: args' in capsys.readouterr().out
    # the converted file itself is weights-only
    converted = torch.load(dst, weights_only=True)
    _assert_identical(vicmae_to_official(converted['state_dict'])[0], state)


def test_mapping_errors_name_the_checkpoint():
    with pytest.raises(CheckpointFormatError, match='my.pth'):
        official_to_vicmae({'blocks.0.weird': torch.ones(1)}, 'my.pth')
    state = official_to_vicmae(official_model()[3])[0]
    state['pool_neck.gem_p'] = torch.ones(1)
    with pytest.raises(CheckpointFormatError,
                       match='no official ViC-MAE equivalent'):
        vicmae_to_official(state)
