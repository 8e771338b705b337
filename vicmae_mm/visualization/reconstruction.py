# Copyright (c) vicmae_mm contributors. All rights reserved.
"""Masked-reconstruction figures (the vis hook and its analysis tool)."""
import inspect
import os.path as osp
from typing import Dict, List, Sequence

import cv2
import numpy as np
import torch

from vicmae_mm.datasets.annotation_lists import VIDEO_EXTENSIONS

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
               frame_gap_s: float = 1.0) -> List[torch.Tensor]:
    """Square BGR uint8 ``(3, H, W)`` views of an image (one) or a video
    (two), as the data preprocessor takes them.

    A video gives its first frame and the one ``frame_gap_s`` seconds later
    (or its last), as in ViC-MAE pretraining.
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
        views = [_square_resize(f[..., ::-1], img_size) for f in frames]
    else:
        image = cv2.imread(path, cv2.IMREAD_COLOR)
        if image is None:
            raise ValueError(f'cannot read image {path}')
        views = [_square_resize(image, img_size)]
    return [
        torch.from_numpy(np.ascontiguousarray(v)).permute(2, 0, 1)
        for v in views
    ]


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
    """Mask, encode, decode and de-normalise ``(N, 3, H, W)`` model inputs.

    Args:
        mask_seed (int): Seed of the masking noise (same masks every call).
        paste_visible (bool): Original pixels on the visible patches of the
            reconstruction (as in the MAE figures).

    Returns:
        dict: RGB ``original``, ``masked``, ``reconstruction`` in
        ``[0, 255]``, and ``mask`` ``(N, 1, H, W)`` (1 = masked).
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
    if getattr(head, 'norm_pix', False):  # undo the target normalisation
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
    """Lay out :func:`reconstruct`'s panels as an RGB uint8 grid.

    Rows are :data:`ROW_NAMES`, columns the views (``views_per_sample``
    consecutive ones per sample); panels are enlarged (nearest) to at
    least ``min_panel_size``.
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
    grid = np.full(
        (len(ROW_NAMES) * (ph + _VIEW_GAP) - _VIEW_GAP, x - _SAMPLE_GAP, 3),
        255, np.uint8)
    for r, name in enumerate(ROW_NAMES):
        top = r * (ph + _VIEW_GAP)
        cv2.putText(grid, name, (4, top + ph // 2 + 4),
                    cv2.FONT_HERSHEY_SIMPLEX, 0.45, (0, 0, 0), 1, cv2.LINE_AA)
        rows = panels[name].round().byte().permute(0, 2, 3, 1).cpu().numpy()
        rows = rows.repeat(scale, axis=1).repeat(scale, axis=2)
        for i, left in enumerate(starts):
            grid[top:top + ph, left:left + pw] = rows[i]
    return grid


def reconstruction_grid(model,
                        views: Sequence[Sequence[torch.Tensor]],
                        mask_seed: int = 0,
                        paste_visible: bool = True,
                        min_panel_size: int = 96) -> np.ndarray:
    """Grid for samples given as their raw uint8 ``(3, H, W)`` BGR views."""
    flat = torch.stack([v for sample in views for v in sample])
    data = model.data_preprocessor(dict(inputs=flat, data_samples=None), False)
    panels = reconstruct(model, data['inputs'], mask_seed, paste_visible)
    return compose_grid(panels, [len(s) for s in views], min_panel_size)
