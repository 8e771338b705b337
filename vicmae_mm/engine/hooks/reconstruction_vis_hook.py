# Copyright (c) vicmae_mm contributors. All rights reserved.
"""Figures of what the masked autoencoder reconstructs during pretraining.

Besides the hook, the module holds the pieces that
``tools/analysis/visualize_reconstruction.py`` reuses offline: reading view
pairs from image/video files, the de-normalised reconstruction, and the
grid layout.
"""
import inspect
import os.path as osp
from typing import Dict, List, Optional, Sequence

import cv2
import numpy as np
import torch
from mmengine.dist import is_main_process
from mmengine.hooks import Hook
from mmengine.logging import MMLogger
from mmengine.model import is_model_wrapper
from mmengine.registry import HOOKS

VIDEO_EXTENSIONS = ('.mp4', '.avi', '.mkv', '.mov', '.webm', '.m4v')
ROW_NAMES = ('original', 'masked', 'reconstruction')
_MASK_GREY = 127.0
# gaps (pixels) between the two views of a sample and between samples
_VIEW_GAP, _SAMPLE_GAP, _LABEL_WIDTH = 2, 8, 112


def _square_resize(image: np.ndarray, size: int) -> np.ndarray:
    """Resize the shorter side to ``size``, then centre-crop a square."""
    h, w = image.shape[:2]
    scale = size / min(h, w)
    nh, nw = max(size, round(h * scale)), max(size, round(w * scale))
    image = cv2.resize(
        image, (nw, nh),
        interpolation=cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR)
    top, left = (nh - size) // 2, (nw - size) // 2
    return image[top:top + size, left:left + size]


def read_views(path: str,
               img_size: int,
               frame_gap_s: float = 1.0) -> List[np.ndarray]:
    """Views of one file as the model sees them (BGR uint8, square).

    An image gives one view; a video gives a frame pair: its first frame and
    the frame ``frame_gap_s`` seconds later (the last frame if the video is
    shorter), as in ViC-MAE's video pretraining.

    Args:
        path (str): Image or video file.
        img_size (int): Side of the square views.
        frame_gap_s (float): Time between the two frames of a video pair.

    Returns:
        list[np.ndarray]: One or two ``(img_size, img_size, 3)`` arrays.
    """
    if not osp.isfile(path):
        raise FileNotFoundError(f'reconstruction input not found: {path}')
    if path.lower().endswith(VIDEO_EXTENSIONS):
        import decord
        try:
            reader = decord.VideoReader(path)
        except Exception as err:  # decord raises its own DECORDError
            raise ValueError(f'cannot decode video {path}: {err}') from err
        if len(reader) == 0:
            raise ValueError(f'video {path} has no frames')
        gap = int(round(frame_gap_s * reader.get_avg_fps()))
        second = min(max(gap, 0), len(reader) - 1)
        frames = reader.get_batch([0, second]).asnumpy()
        # decord gives RGB; the pipelines (and the data preprocessor's
        # to_rgb) expect BGR like LoadImageFromFile
        return [_square_resize(f[..., ::-1], img_size) for f in frames]
    image = cv2.imread(path, cv2.IMREAD_COLOR)
    if image is None:
        raise ValueError(f'cannot read image {path}')
    return [_square_resize(image, img_size)]


def model_input_size(model) -> int:
    """Square input side of a ViC-MAE/MAE model (patch grid x patch)."""
    backbone = getattr(model, 'backbone', None)
    if backbone is None or not hasattr(backbone, 'patch_resolution'):
        raise TypeError(f'{type(model).__name__} has no ViT backbone with '
                        'a patch_resolution; cannot size its inputs')
    return int(backbone.patch_resolution[0] * model.head.patch_size)


def _display_rgb(data_preprocessor, images: torch.Tensor) -> torch.Tensor:
    """Undo the data preprocessor: normalised model input -> RGB 0..255."""
    if getattr(data_preprocessor, '_enable_normalize', False):
        images = images * data_preprocessor.std + data_preprocessor.mean
    if not getattr(data_preprocessor, '_channel_conversion', False):
        # the model saw BGR (the pipelines' order); show RGB
        images = images[:, [2, 1, 0]]
    return images.clamp(0, 255)


@torch.no_grad()
def reconstruct(model,
                images: torch.Tensor,
                mask_seed: int = 0,
                paste_visible: bool = True) -> Dict[str, torch.Tensor]:
    """Mask, encode, decode and de-normalise a batch of model inputs.

    ``MAEPretrainHead`` with ``norm_pix`` predicts every patch normalised by
    its own mean and variance; the prediction is mapped back to pixels with
    the mean/variance of the corresponding *original* patch (the statistics
    the target was normalised with), then through the data preprocessor's
    mean/std.

    Args:
        model: A ViC-MAE (or MAE) model with ``backbone`` (masked ViT),
            ``neck`` (pixel decoder), ``head`` (``MAEPretrainHead``) and
            ``data_preprocessor``; in eval mode.
        images (torch.Tensor): Preprocessed inputs ``(N, 3, H, W)``.
        mask_seed (int): Seed of the masking noise, so that every call (and
            every training step) shows the same masks.
        paste_visible (bool): Show the original pixels on visible patches
            of the reconstruction (the MAE paper's figures); otherwise the
            decoder output everywhere.

    Returns:
        dict: ``original``, ``masked``, ``reconstruction`` as RGB float
        tensors in ``[0, 255]``, ``(N, 3, H, W)``, and ``mask``
        ``(N, 1, H, W)`` (1 = masked).
    """
    for part in ('backbone', 'neck', 'head', 'data_preprocessor'):
        if getattr(model, part, None) is None:
            raise TypeError(f'{type(model).__name__} has no {part}; the '
                            'reconstruction needs an MAE-style model')
    backbone, head = model.backbone, model.head
    n = images.shape[0]
    num_patches = int(np.prod(backbone.patch_resolution))
    kwargs = {}
    if 'noise' in inspect.signature(backbone.forward).parameters:
        generator = torch.Generator().manual_seed(mask_seed)
        kwargs['noise'] = torch.rand(
            n, num_patches, generator=generator).to(images.device)
    latent, mask, ids_restore = backbone(images, **kwargs)
    pred = model.neck(latent, ids_restore)
    if getattr(head, 'norm_pix', False):
        target = head.patchify(images)
        mean = target.mean(dim=-1, keepdim=True)
        var = target.var(dim=-1, keepdim=True)
        pred = pred * (var + 1.e-6)**.5 + mean
    recon = head.unpatchify(pred)
    mask_img = head.unpatchify(
        mask.unsqueeze(-1).repeat(1, 1, pred.shape[-1]))[:, :1]
    original = _display_rgb(model.data_preprocessor, images)
    recon = _display_rgb(model.data_preprocessor, recon)
    masked = original * (1 - mask_img) + _MASK_GREY * mask_img
    if paste_visible:
        recon = original * (1 - mask_img) + recon * mask_img
    return dict(
        original=original, masked=masked, reconstruction=recon, mask=mask_img)


def compose_grid(panels: Dict[str, torch.Tensor],
                 views_per_sample: Sequence[int],
                 min_panel_size: int = 96) -> np.ndarray:
    """Lay out reconstruction panels as an RGB uint8 grid.

    Rows are :data:`ROW_NAMES` (labelled on the left); columns are the
    views, the views of one sample side by side and samples set apart by a
    wider gap.

    Args:
        panels (dict): Output of :func:`reconstruct`.
        views_per_sample (Sequence[int]): How many consecutive columns
            belong to each sample (2 for a pair, 1 for a single image).
        min_panel_size (int): Small inputs are enlarged (nearest neighbour)
            to at least this many pixels.

    Returns:
        np.ndarray: ``(rows, cols, 3)`` uint8 RGB image.
    """
    n, _, h, w = panels['original'].shape
    if sum(views_per_sample) != n:
        raise ValueError(f'views_per_sample {list(views_per_sample)} does '
                         f'not add up to the {n} panels')
    scale = max(1, -(-min_panel_size // h))
    ph, pw = h * scale, w * scale
    starts, x = [], _LABEL_WIDTH
    for count in views_per_sample:
        for v in range(count):
            starts.append(x)
            x += pw + (_VIEW_GAP if v < count - 1 else _SAMPLE_GAP)
    width = x - _SAMPLE_GAP
    grid = np.full((len(ROW_NAMES) * (ph + _VIEW_GAP) - _VIEW_GAP, width, 3),
                   255, np.uint8)
    for r, name in enumerate(ROW_NAMES):
        top = r * (ph + _VIEW_GAP)
        cv2.putText(grid, name, (4, top + ph // 2 + 4),
                    cv2.FONT_HERSHEY_SIMPLEX, 0.45, (0, 0, 0), 1, cv2.LINE_AA)
        rows = panels[name].round().byte().permute(0, 2, 3, 1).cpu().numpy()
        for i, left in enumerate(starts):
            grid[top:top + ph, left:left + pw] = np.kron(
                rows[i], np.ones((scale, scale, 1), np.uint8))
    return grid


def reconstruction_grid(model,
                        views: Sequence[Sequence[torch.Tensor]],
                        mask_seed: int = 0,
                        paste_visible: bool = True,
                        min_panel_size: int = 96) -> np.ndarray:
    """Grid for samples given as raw views (uint8 ``(3, H, W)`` BGR).

    Args:
        model: See :func:`reconstruct`.
        views (Sequence[Sequence[torch.Tensor]]): Per sample, its views.
        mask_seed (int): See :func:`reconstruct`.
        paste_visible (bool): See :func:`reconstruct`.
        min_panel_size (int): See :func:`compose_grid`.

    Returns:
        np.ndarray: RGB uint8 grid.
    """
    flat = torch.stack([v for sample in views for v in sample])
    data = model.data_preprocessor(dict(inputs=flat, data_samples=None), False)
    panels = reconstruct(model, data['inputs'], mask_seed, paste_visible)
    return compose_grid(panels, [len(s) for s in views], min_panel_size)


@HOOKS.register_module()
class ReconstructionVisHook(Hook):
    """Write original / masked / reconstruction grids during pretraining.

    Every ``interval`` training iterations (and after the last one) the
    model, in eval mode and without gradients, masks and reconstructs a
    fixed small set of samples; the grid goes to ``runner.visualizer``
    (``add_image``), so ``LocalVisBackend`` writes
    ``<work_dir>/<timestamp>/vis_data/vis_image/<name>_<iter>.png`` and
    TensorBoard / W&B backends get it when configured. The masks are drawn
    from ``mask_seed`` every time, so successive figures differ only by
    training.

    The samples are either ``files`` (images give one view each, videos a
    frame pair ``frame_gap_s`` apart; one grid), or the first
    ``num_samples`` pairs of the training batches, both views of each pair
    side by side. When the data samples carry a ``sample_kind`` metainfo
    (``'image'`` / ``'video'``, set by ``MixedPairDataset``) each kind gets
    its own grid, ``<name>_image`` and ``<name>_video``, filled from the
    batches seen until the first drawing; the set is then fixed. Only the
    main process draws.

    Args:
        interval (int): Draw every this many iterations. Defaults to 100.
        num_samples (int): Training samples shown (per kind). Defaults
            to 4.
        files (Sequence[str], optional): Image/video files to show instead
            of training samples.
        frame_gap_s (float): Seconds between the frames of a video pair
            read from ``files``. Defaults to 1.0.
        mask_seed (int): Seed of the shown masks. Defaults to 0.
        paste_visible (bool): Show original pixels on the visible patches
            of the reconstruction. Defaults to True.
        min_panel_size (int): Enlarge panels to at least this size.
            Defaults to 96.
        name (str): Image name for the visualizer. Defaults to
            ``'reconstruction'``.
        draw_at_end (bool): Also draw after the last iteration. Defaults
            to True.
        kind_key (str): Data sample metainfo key that tells the kinds
            apart. Defaults to ``'sample_kind'``.
    """

    priority = 'NORMAL'

    def __init__(self,
                 interval: int = 100,
                 num_samples: int = 4,
                 files: Optional[Sequence[str]] = None,
                 frame_gap_s: float = 1.0,
                 mask_seed: int = 0,
                 paste_visible: bool = True,
                 min_panel_size: int = 96,
                 name: str = 'reconstruction',
                 draw_at_end: bool = True,
                 kind_key: str = 'sample_kind') -> None:
        if int(interval) < 1:
            raise ValueError('ReconstructionVisHook: interval must be >= 1, '
                             f'got {interval}')
        if int(num_samples) < 1:
            raise ValueError('ReconstructionVisHook: num_samples must be '
                             f'>= 1, got {num_samples}')
        if files is not None and (isinstance(files, str) or not files):
            raise ValueError('ReconstructionVisHook: files must be a '
                             'non-empty list of paths')
        if frame_gap_s < 0:
            raise ValueError('ReconstructionVisHook: frame_gap_s must be '
                             f'>= 0, got {frame_gap_s}')
        self.interval = int(interval)
        self.num_samples = int(num_samples)
        self.files = list(files) if files is not None else None
        self.frame_gap_s = float(frame_gap_s)
        self.mask_seed = int(mask_seed)
        self.paste_visible = paste_visible
        self.min_panel_size = int(min_panel_size)
        self.name = name
        self.draw_at_end = draw_at_end
        self.kind_key = kind_key
        # kind ('' when untagged) -> samples -> views (uint8 (3, H, W))
        self.samples: Dict[str, List[List[torch.Tensor]]] = {}
        self._frozen = False

    @staticmethod
    def _unwrap(runner):
        model = runner.model
        return model.module if is_model_wrapper(model) else model

    def before_train(self, runner) -> None:
        """Read and check the configured files once, before training."""
        if self.files is None:
            return
        size = model_input_size(self._unwrap(runner))
        self.samples = {
            '': [[
                torch.from_numpy(np.ascontiguousarray(v)).permute(2, 0, 1)
                for v in read_views(f, size, self.frame_gap_s)
            ] for f in self.files]
        }
        self._frozen = True

    def collect(self, data_batch: dict) -> None:
        """Keep samples of a training batch (up to ``num_samples`` per
        kind), split into their views."""
        inputs = data_batch['inputs']
        views = list(inputs) if isinstance(inputs, (list, tuple)) \
            else [inputs]
        data_samples = data_batch.get('data_samples') or []
        for i in range(views[0].shape[0]):
            kind = ''
            if i < len(data_samples) and hasattr(data_samples[i],
                                                 'metainfo'):
                kind = str(data_samples[i].metainfo.get(self.kind_key, ''))
            group = self.samples.setdefault(kind, [])
            if len(group) < self.num_samples:
                group.append([v[i].detach().cpu().clone() for v in views])

    def after_train_iter(self,
                         runner,
                         batch_idx: int,
                         data_batch: Optional[dict] = None,
                         outputs: Optional[dict] = None) -> None:
        """Collect samples until the first drawing; draw every
        ``interval`` iterations."""
        if not self._frozen and data_batch is not None:
            self.collect(data_batch)
        if not (self.every_n_train_iters(runner, self.interval) or
                (self.draw_at_end and self.is_last_train_iter(runner))):
            return
        self._frozen = True
        if is_main_process() and self.samples:
            self.draw(runner)

    def draw(self, runner) -> Dict[str, np.ndarray]:
        """Draw a grid per kind with the current model and hand it to the
        visualizer.

        Returns:
            dict: Visualizer image name -> RGB grid.
        """
        model = self._unwrap(runner)
        was_training = model.training
        model.eval()
        grids = {}
        try:
            for kind in sorted(self.samples):
                name = f'{self.name}_{kind}' if kind else self.name
                grids[name] = reconstruction_grid(model, self.samples[kind],
                                                  self.mask_seed,
                                                  self.paste_visible,
                                                  self.min_panel_size)
        finally:
            model.train(was_training)
        step = runner.iter + 1
        for name, grid in grids.items():
            runner.visualizer.add_image(name, grid, step=step)
        counts = ', '.join(f'{k or "samples"}: {len(v)}'
                           for k, v in sorted(self.samples.items()))
        MMLogger.get_current_instance().info(
            f'ReconstructionVisHook: drew {sorted(grids)} at iter {step} '
            f'({counts})')
        return grids
