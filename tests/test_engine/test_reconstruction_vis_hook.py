# Copyright (c) vicmae_mm contributors. All rights reserved.
"""ReconstructionVisHook and tools/analysis/visualize_reconstruction.py."""
import glob
import os.path as osp
import subprocess
import sys

import cv2
import numpy as np
import pytest
import torch
from mmengine.config import Config
from mmengine.runner import Runner
from torch import nn

from helpers import REPO_ROOT, TINY_PRETRAIN_CFG, write_images
from vicmae_mm.engine.hooks import ReconstructionVisHook
from vicmae_mm.visualization import ROW_NAMES, compose_grid, reconstruct

PANEL = 96  # 32-pixel inputs are enlarged x3 to reach min_panel_size=96
LABEL_W, VIEW_GAP, SAMPLE_GAP = 112, 2, 8
TOOL = osp.join(REPO_ROOT, 'tools', 'analysis', 'visualize_reconstruction.py')


def _build_model():
    from mmpretrain.registry import MODELS
    from mmengine.registry import init_default_scope
    init_default_scope('mmpretrain')
    model = MODELS.build(Config.fromfile(TINY_PRETRAIN_CFG).model)
    model.init_weights()
    return model.eval()


class _PerfectDecoder(nn.Module):
    """Predicts exactly the normalised-pixel target of given images."""

    def __init__(self, head, images):
        super().__init__()
        self.head, self.images = head, images

    def forward(self, latent, ids_restore):
        return self.head.construct_target(self.images)


def test_reconstruct_undoes_norm_pix_and_preprocessing():
    torch.manual_seed(0)
    model = _build_model()
    raw = torch.randint(0, 256, (3, 3, 32, 32), dtype=torch.uint8)
    images = model.data_preprocessor(
        dict(inputs=raw, data_samples=None), False)['inputs']
    model.neck = _PerfectDecoder(model.head, images)
    out = reconstruct(model, images, mask_seed=3, paste_visible=False)
    rgb = raw.flip(1).float()  # the pipelines give BGR, figures are RGB
    assert torch.allclose(out['original'], rgb, atol=1e-3)
    # a perfect normalised prediction maps back to the original pixels
    assert torch.allclose(out['reconstruction'], rgb, atol=1e-2)
    # half of the 16 patches of each image are masked and shown grey
    mask = out['mask'][:, 0]
    assert mask.sum(dim=(1, 2)).tolist() == [8 * 64] * 3
    assert torch.all(out['masked'].permute(1, 0, 2, 3)[:, mask.bool()] == 127)
    # the same seed gives the same masks, another seed others
    again = reconstruct(model, images, mask_seed=3)
    other = reconstruct(model, images, mask_seed=4)
    assert torch.equal(again['mask'], out['mask'])
    assert not torch.equal(other['mask'], out['mask'])


def test_compose_grid_layout_and_checks():
    panels = {
        name: torch.full((3, 3, 16, 16), float(i * 50))
        for i, name in enumerate(ROW_NAMES)
    }
    grid = compose_grid(panels, [2, 1], min_panel_size=40)
    # 16 px panels enlarged x3; columns: pair (gap 2), sample gap 8, single
    assert grid.shape == (3 * 48 + 2 * 2, LABEL_W + 3 * 48 + 2 + 8, 3)
    assert (grid[48 + 2:2 * 48 + 2, LABEL_W:LABEL_W + 48] == 50).all()
    with pytest.raises(ValueError, match='does not add up'):
        compose_grid(panels, [2, 2])


@pytest.mark.parametrize('kwargs, match', [
    (dict(interval=0), 'interval'),
    (dict(num_samples=0), 'num_samples'),
    (dict(files='a.png'), 'files'),
    (dict(frame_gap_s=-1), 'frame_gap_s'),
])
def test_hook_rejects_bad_config(kwargs, match):
    with pytest.raises(ValueError, match=match):
        ReconstructionVisHook(**kwargs)


@pytest.fixture(scope='module')
def pretrain_images(tmp_path_factory):
    root = tmp_path_factory.mktemp('recon_images')
    write_images(str(root), num=16)
    return str(root)


@pytest.fixture(scope='module')
def media(tmp_path_factory):
    """One PNG and one 2-second 10 fps mp4 of a square moving right."""
    root = tmp_path_factory.mktemp('recon_media')
    image = write_images(str(root), num=1, size=48, seed=5)[0]
    video = str(root / 'moving.mp4')
    writer = cv2.VideoWriter(video, cv2.VideoWriter_fourcc(*'mp4v'), 10,
                             (64, 48))
    for t in range(20):
        frame = np.full((48, 64, 3), 30, np.uint8)
        frame[10:30, 2 + 2 * t:22 + 2 * t] = (0, 200, 255)
        writer.write(frame)
    writer.release()
    return image, video


def _run(work_dir, data_root, hook):
    cfg = Config.fromfile(TINY_PRETRAIN_CFG)
    cfg.work_dir = work_dir
    cfg.train_dataloader.dataset.data_root = data_root
    cfg.custom_hooks = cfg.custom_hooks + [hook]
    runner = Runner.from_cfg(cfg)
    runner.train()
    return runner


def _png(work_dir, name):
    (path, ) = glob.glob(
        osp.join(work_dir, '*', 'vis_data', 'vis_image', name))
    return cv2.imread(path)[..., ::-1]  # RGB like the visualizer's input


def _panel(grid, row, col_left):
    top = row * (PANEL + VIEW_GAP)
    return grid[top:top + PANEL, col_left:col_left + PANEL]


def test_hook_draws_training_pairs_through_visualizer(tmp_path,
                                                      pretrain_images):
    work = str(tmp_path / 'work')
    runner = _run(
        work, pretrain_images,
        dict(type='ReconstructionVisHook', interval=2, num_samples=2))
    (hook, ) = [
        h for h in runner.hooks if isinstance(h, ReconstructionVisHook)
    ]
    first, last = _png(work,
                       'reconstruction_2.png'), _png(work,
                                                     'reconstruction_4.png')
    # 3 rows; 2 samples x 2 views: pair gap, sample gap, pair gap
    assert first.shape == (3 * PANEL + 2 * VIEW_GAP,
                           LABEL_W + 4 * PANEL + 2 * VIEW_GAP + SAMPLE_GAP, 3)
    lefts = [LABEL_W, LABEL_W + PANEL + VIEW_GAP]
    lefts += [lefts[1] + PANEL + SAMPLE_GAP]
    lefts += [lefts[2] + PANEL + VIEW_GAP]
    views = [v for sample in hook.samples[''] for v in sample]
    assert len(views) == 4
    for view, left in zip(views, lefts):
        # the original row is the cached training view (BGR -> RGB), x3
        expected = np.kron(
            view.flip(0).permute(1, 2, 0).numpy(), np.ones((3, 3, 1),
                                                           np.uint8))
        original = _panel(first, 0, left)
        assert np.abs(original.astype(int) - expected).max() <= 1
        # masked row: 8 of 16 patches grey; reconstruction row keeps the
        # visible patches and fills the masked ones from the decoder
        masked = _panel(first, 1, left)
        recon = _panel(first, 2, left)
        grey = (masked == 127).all(axis=-1)
        patches = grey.reshape(4, 24, 4, 24).all(axis=(1, 3))
        assert patches.sum() == 8
        visible = ~np.kron(patches, np.ones((24, 24), bool))
        assert np.array_equal(recon[visible], original[visible])
        assert not np.array_equal(recon[~visible], masked[~visible])
    # same samples and masks at every step; only the reconstruction moves
    rows = 2 * PANEL + VIEW_GAP
    assert np.array_equal(first[:rows], last[:rows])
    assert not np.array_equal(first[rows:], last[rows:])


def test_hook_draws_configured_image_and_video_pair(tmp_path, pretrain_images,
                                                    media):
    image, video = media
    work = str(tmp_path / 'work')
    _run(
        work, pretrain_images,
        dict(
            type='ReconstructionVisHook',
            interval=4,
            files=[image, video],
            name='files_recon'))
    grid = _png(work, 'files_recon_4.png')
    # the image is one column, the video a frame pair
    assert grid.shape[1] == LABEL_W + 3 * PANEL + SAMPLE_GAP + VIEW_GAP
    first = _panel(grid, 0, LABEL_W + PANEL + SAMPLE_GAP)
    second = _panel(grid, 0, LABEL_W + 2 * PANEL + SAMPLE_GAP + VIEW_GAP)
    # frames 0 and 10 (1 s apart at 10 fps): the square moved right
    cols0 = np.flatnonzero((first[..., 0] > 150).any(axis=0))
    cols1 = np.flatnonzero((second[..., 0] > 150).any(axis=0))
    assert cols1.mean() - cols0.mean() > 20


def test_hook_draws_a_grid_per_sample_kind(tmp_path, pretrain_images):
    from mmpretrain.structures import DataSample
    cfg = Config.fromfile(TINY_PRETRAIN_CFG)
    cfg.work_dir = str(tmp_path / 'work')
    cfg.train_dataloader.dataset.data_root = pretrain_images
    runner = Runner.from_cfg(cfg)
    hook = ReconstructionVisHook(num_samples=2)
    kinds = ['video', 'image', 'image', 'video', 'image']
    batch = dict(
        inputs=[torch.randint(0, 256, (5, 3, 32, 32), dtype=torch.uint8)] * 2,
        data_samples=[DataSample(metainfo=dict(sample_kind=k))
                      for k in kinds])
    hook.collect(batch)
    assert {k: len(v) for k, v in hook.samples.items()} == dict(
        image=2, video=2)
    # the first image sample is batch index 1
    assert torch.equal(hook.samples['image'][0][0], batch['inputs'][0][1])
    grids = hook.draw(runner)
    assert sorted(grids) == ['reconstruction_image', 'reconstruction_video']
    for name in grids:
        grid = _png(cfg.work_dir, f'{name}_1.png')
        assert np.array_equal(grid, grids[name])


def test_hook_reports_missing_file(tmp_path, pretrain_images):
    missing = str(tmp_path / 'nope.mp4')
    with pytest.raises(FileNotFoundError, match='nope.mp4'):
        _run(
            str(tmp_path / 'work'), pretrain_images,
            dict(type='ReconstructionVisHook', files=[missing]))


def test_offline_tool_writes_grid(tmp_path, tiny_pretrain_ckpt, media):
    image, video = media
    out = str(tmp_path / 'figs' / 'recon.png')
    cmd = [
        sys.executable, TOOL, TINY_PRETRAIN_CFG, tiny_pretrain_ckpt, image,
        video, '--out', out
    ]
    proc = subprocess.run(cmd, cwd=REPO_ROOT, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    grid = cv2.imread(out)
    assert grid.shape == (3 * PANEL + 2 * VIEW_GAP,
                          LABEL_W + 3 * PANEL + SAMPLE_GAP + VIEW_GAP, 3)
    # a missing input is named, and nothing is written
    bad = subprocess.run(
        cmd[:4] +
        [str(tmp_path / 'missing.png'), '--out',
         str(tmp_path / 'bad.png')],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True)
    assert bad.returncode != 0
    assert 'missing.png' in bad.stderr
    assert not osp.exists(str(tmp_path / 'bad.png'))
