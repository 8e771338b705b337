# Copyright (c) vicmae_mm contributors. All rights reserved.
"""Every way the toolkit loads a checkpoint refuses one whose pickle runs
code, with a message naming the file, and the code never runs.

The malicious file is a real ViC-MAE pretraining checkpoint (the
``tiny_pretrain_ckpt`` fixture) with one extra entry in ``meta`` whose
unpickling calls ``open(MARKER, 'w')``. Subprocess paths run with
``TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD=1``, which makes every ``torch.load``
that does not pass ``weights_only`` explicitly unpickle everything: a path
that relied on torch's default would create the marker.
"""
import importlib.util
import os
import os.path as osp
import subprocess
import sys

import pytest
import torch

import vicmae_mm  # noqa: F401  (safe local loader)
from helpers import (REPO_ROOT, TINY_ARCH, TINY_IMG, TINY_PATCH,
                     TINY_PRETRAIN_CFG, write_images)
from vicmae_mm.utils import UnsafeCheckpointError, safe_torch_load

CONFIGS = osp.join(osp.dirname(osp.abspath(__file__)), 'configs')
REFUSAL = 'Refusing to load checkpoint'
FORCE_UNSAFE_ENV = 'TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD'


class _CreatesFile:
    """Unpickling this calls ``open(path, 'w')``: arbitrary code."""

    def __init__(self, path: str) -> None:
        self.path = path

    def __reduce__(self):
        return (open, (self.path, 'w'))


@pytest.fixture
def evil(tmp_path, tiny_pretrain_ckpt):
    """``(checkpoint path, marker path)``; fails the test if the marker
    ever appears."""
    marker = str(tmp_path / 'code_ran.txt')
    checkpoint = safe_torch_load(tiny_pretrain_ckpt)
    checkpoint['meta']['payload'] = _CreatesFile(marker)
    path = str(tmp_path / 'downloaded_vicmae.pth')
    torch.save(checkpoint, path)
    assert not osp.exists(marker)
    yield path, marker
    assert not osp.exists(marker), 'unpickling ran code'


def _assert_refused(text: str, path: str) -> None:
    assert REFUSAL in text and path in text, text[-3000:]


def _tool(script: str, *args, timeout: int = 600):
    env = dict(os.environ)
    env[FORCE_UNSAFE_ENV] = '1'
    return subprocess.run(
        [sys.executable, osp.join(REPO_ROOT, script), *args],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout)


def _load_script(relpath: str):
    """Import a script under tools/ as a module (its ``main`` is called
    in-process)."""
    path = osp.join(REPO_ROOT, relpath)
    name = 'reliability_' + osp.splitext(osp.basename(path))[0]
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


# ---------------------------------------------------------------- library
def test_safe_torch_load_refuses_even_when_torch_is_told_not_to(
        evil, monkeypatch):
    path, _ = evil
    monkeypatch.setenv(FORCE_UNSAFE_ENV, '1')
    with pytest.raises(UnsafeCheckpointError) as info:
        safe_torch_load(path)
    _assert_refused(str(info.value), path)
    # the refusal names the global it would have had to call
    assert 'Unsupported global: GLOBAL io.open' in str(info.value)


def test_mmengine_loaders_refuse(evil, monkeypatch):
    from mmengine.runner.checkpoint import (CheckpointLoader, _load_checkpoint,
                                            load_checkpoint)
    path, _ = evil
    monkeypatch.setenv(FORCE_UNSAFE_ENV, '1')
    model = torch.nn.Linear(2, 2)
    for load in (lambda: _load_checkpoint(path, map_location='cpu'),
                 lambda: load_checkpoint(model, path, map_location='cpu'),
                 lambda: CheckpointLoader.load_checkpoint(path)):
        with pytest.raises(UnsafeCheckpointError) as info:
            load()
        _assert_refused(str(info.value), path)


def test_remote_checkpoint_urls_load_weights_only(evil, tmp_path, monkeypatch):
    """``http(s)://`` (and ``torchvision://``, ``open-mmlab://``, which go
    through it) checkpoints are cached under ``$TORCH_HOME/hub/checkpoints``
    and then loaded; the cached copy must get the same weights-only policy.
    The file is put in the cache first, so nothing is downloaded."""
    from mmengine.runner.checkpoint import _load_checkpoint
    path, _ = evil
    monkeypatch.setenv('TORCH_HOME', str(tmp_path / 'torch_home'))
    cache = tmp_path / 'torch_home' / 'hub' / 'checkpoints'
    cache.mkdir(parents=True)
    cached = cache / 'vicmae_release.pth'
    cached.write_bytes(open(path, 'rb').read())
    with pytest.raises(UnsafeCheckpointError) as info:
        _load_checkpoint('https://example.invalid/vicmae_release.pth')
    assert 'vicmae_release.pth' in str(info.value)


# -------------------------------------------------- init_cfg=Pretrained
def test_mmpretrain_vit_pretrained_init_refuses(evil):
    from mmpretrain.models import VisionTransformer
    path, _ = evil
    model = VisionTransformer(
        arch=TINY_ARCH,
        img_size=TINY_IMG,
        patch_size=TINY_PATCH,
        init_cfg=dict(type='Pretrained', checkpoint=path, prefix='backbone.'))
    with pytest.raises(UnsafeCheckpointError) as info:
        model.init_weights()
    _assert_refused(str(info.value), path)


def test_mmaction2_backbone_pretrained_init_refuses(evil):
    import mmaction.models  # noqa: F401
    from mmaction.registry import MODELS
    from mmengine.registry import DefaultScope
    path, _ = evil
    with DefaultScope.overwrite_default_scope('mmaction'):
        model = MODELS.build(
            dict(
                type='InflatedVisionTransformer',
                arch=TINY_ARCH,
                img_size=TINY_IMG,
                patch_size=TINY_PATCH,
                num_frames=4,
                init_cfg=dict(
                    type='Pretrained', checkpoint=path, prefix='backbone.')))
    with pytest.raises(UnsafeCheckpointError) as info:
        model.init_weights()
    _assert_refused(str(info.value), path)


def test_mmdet_backbone_pretrained_init_refuses(evil):
    from mmdet.registry import MODELS
    from mmengine.registry import DefaultScope
    path, _ = evil
    with DefaultScope.overwrite_default_scope('mmdet'):
        model = MODELS.build(
            dict(
                type='ViTDet',
                arch=TINY_ARCH,
                img_size=64,
                patch_size=TINY_PATCH,
                window_size=4,
                global_attn_indexes=(1, ),
                init_cfg=dict(
                    type='Pretrained', checkpoint=path, prefix='backbone.')))
    with pytest.raises(UnsafeCheckpointError) as info:
        model.init_weights()
    _assert_refused(str(info.value), path)


# ------------------------------------------------------------ converters
@pytest.mark.parametrize('script', [
    'tools/model_converters/extract_backbone.py',
    'tools/model_converters/official_to_vicmae.py',
    'tools/model_converters/vicmae_to_timm.py',
])
def test_converter_refuses(evil, tmp_path, capsys, script):
    path, _ = evil
    dst = str(tmp_path / 'converted.pth')
    assert _load_script(script).main([path, dst]) == 1
    _assert_refused(capsys.readouterr().err, path)
    assert not osp.exists(dst)


def test_visualize_reconstruction_refuses(evil, tmp_path):
    path, _ = evil
    (image, ) = write_images(str(tmp_path / 'inputs'), num=1)
    out = str(tmp_path / 'grid.png')
    tool = _load_script('tools/analysis/visualize_reconstruction.py')
    with pytest.raises(UnsafeCheckpointError) as info:
        tool.main([TINY_PRETRAIN_CFG, path, image, '--out', out])
    _assert_refused(str(info.value), path)
    assert not osp.exists(out)


# --------------------------------------------- train / test (subprocess)
@pytest.fixture(scope='module')
def image_root(tmp_path_factory) -> str:
    root = tmp_path_factory.mktemp('safe_loading_images')
    for c in range(2):  # class folders: also a classification test set
        write_images(str(root / f'class_{c}'), num=4, seed=c)
    return str(root)


@pytest.mark.parametrize('how', ['--resume', 'load_from'])
def test_train_refuses(evil, tmp_path, image_root, how):
    path, _ = evil
    work = str(tmp_path / 'work')
    args = [TINY_PRETRAIN_CFG, '--work-dir', work]
    options = [f'train_dataloader.dataset.data_root={image_root}']
    if how == '--resume':
        args += ['--resume', path]
    else:
        options.append(f'load_from={path}')
    proc = _tool('tools/train.py', *args, '--cfg-options', *options)
    assert proc.returncode != 0
    _assert_refused(proc.stderr, path)
    # refused before any iteration: nothing trained, nothing saved
    assert not osp.isdir(work) or not [
        f for f in os.listdir(work) if f.endswith('.pth')
    ]


def test_test_tool_refuses(evil, tmp_path, image_root):
    path, _ = evil
    proc = _tool('tools/test.py', osp.join(CONFIGS, 'finetune_tiny_test.py'),
                 path, '--work-dir', str(tmp_path / 'work'), '--cfg-options',
                 f'test_dataloader.dataset.data_root={image_root}')
    assert proc.returncode != 0
    _assert_refused(proc.stderr, path)


def test_opt_in_is_explicit_and_per_file(evil, tmp_path, monkeypatch):
    """The only way past the refusal: naming the file (or a folder holding
    it) as trusted. Trusting another file, or a path that is only a string
    prefix of this one, changes nothing."""
    from vicmae_mm.utils.checkpoint import TRUST_ENV
    path, marker = evil
    for other in (str(tmp_path / 'other_folder'), path[:-len('.pth')]):
        monkeypatch.setenv(TRUST_ENV, other)
        with pytest.raises(UnsafeCheckpointError):
            safe_torch_load(path)
    assert not osp.exists(marker)
    monkeypatch.setenv(TRUST_ENV, path)
    with pytest.warns(UserWarning, match='trusted'):
        safe_torch_load(path)
    # the opt-in really unpickles (which is why it must stay explicit)
    assert osp.exists(marker)
    os.remove(marker)
