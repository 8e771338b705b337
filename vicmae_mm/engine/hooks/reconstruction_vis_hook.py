# Copyright (c) vicmae_mm contributors. All rights reserved.
"""Reconstruction figures during pretraining."""
from typing import Dict, List, Optional, Sequence

import numpy as np
import torch
from mmengine.dist import is_main_process
from mmengine.hooks import Hook
from mmengine.logging import MMLogger
from mmengine.model import is_model_wrapper
from mmengine.registry import HOOKS

from vicmae_mm.engine.fsdp_strategy import refuse_sharded_model
from vicmae_mm.visualization.reconstruction import (model_input_size,
                                                    read_views,
                                                    reconstruction_grid)


@HOOKS.register_module()
class ReconstructionVisHook(Hook):
    """Write original / masked / reconstruction grids during pretraining.

    Fixed samples (``files``, or the first training samples) and fixed
    masks, so successive figures differ only by training; a grid per
    ``kind_key`` value (``<name>_<kind>``) goes to ``runner.visualizer``.

    Args:
        interval (int): Draw every this many iterations.
        num_samples (int): Training samples shown (per kind).
        files (Sequence[str], optional): Image/video files to show instead.
        frame_gap_s (float): Seconds between the frames of a video's pair.
        mask_seed (int): Seed of the shown masks.
        paste_visible (bool): Original pixels on the visible patches.
        min_panel_size (int): Enlarge panels to at least this size.
        name (str): Image name for the visualizer.
        draw_at_end (bool): Also draw after the last iteration.
        kind_key (str): Data sample metainfo key that tells kinds apart.
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
        """Read and check the configured files once."""
        refuse_sharded_model(runner, 'ReconstructionVisHook')
        if self.files is None:
            return
        size = model_input_size(self._unwrap(runner))
        self.samples = {
            '': [read_views(f, size, self.frame_gap_s) for f in self.files]
        }
        self._frozen = True

    def collect(self, data_batch: dict) -> None:
        """Keep up to ``num_samples`` samples per kind, split into views."""
        inputs = data_batch['inputs']
        views = list(inputs) if isinstance(inputs, (list, tuple)) \
            else [inputs]
        data_samples = data_batch.get('data_samples') or []
        for i in range(views[0].shape[0]):
            meta = getattr(data_samples[i], 'metainfo', {}) \
                if i < len(data_samples) else {}
            kind = str(meta.get(self.kind_key, ''))
            group = self.samples.setdefault(kind, [])
            if len(group) < self.num_samples:
                group.append([v[i].detach().cpu().clone() for v in views])

    def after_train_iter(self,
                         runner,
                         batch_idx: int,
                         data_batch: Optional[dict] = None,
                         outputs: Optional[dict] = None) -> None:
        """Collect samples until the first drawing; draw on schedule."""
        if not self._frozen and data_batch is not None:
            self.collect(data_batch)
        if not (self.every_n_train_iters(runner, self.interval) or
                (self.draw_at_end and self.is_last_train_iter(runner))):
            return
        self._frozen = True
        if is_main_process() and self.samples:
            self.draw(runner)

    def draw(self, runner) -> Dict[str, np.ndarray]:
        """Draw a grid per kind; return them by visualizer image name."""
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
