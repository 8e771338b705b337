# Copyright (c) vicmae_mm contributors. All rights reserved.
"""One augmentation pipeline per view: frame i or a crop of the image."""
import copy
from typing import List, Union

import numpy as np
from mmcv.transforms import BaseTransform, Compose

from .registration import register_transform


@register_transform
class PairedMultiView(BaseTransform):
    """Apply pipeline *i* to view *i*.

    * Video pair (``img`` a list of frames, from :class:`DecodeFramePair`):
      view *i* is pipeline *i* on frame *i*; frames and pipelines must be
      as many.
    * Image (``img`` one array): pipeline *i* on its own copy of the image,
      as mmpretrain's ``MultiView(num_views=[1, 1])`` does.

    Each view runs on its own copy of the other keys, so no transform sees
    another view's changes. The output ``img`` is the list of views, which
    ``PackInputs`` turns into ``inputs = [view1, view2]``.

    Args:
        transforms (list[list[dict | callable]]): One pipeline per view.
    """

    def __init__(self, transforms: List[List[Union[dict, callable]]]) -> None:
        if (not isinstance(transforms, (list, tuple)) or not transforms
                or not all(isinstance(t, (list, tuple)) for t in transforms)):
            raise ValueError('PairedMultiView: transforms must be a non-empty '
                             'list of pipelines (one list of transforms per '
                             f'view), got {transforms!r}')
        self.pipelines = [Compose(list(t)) for t in transforms]

    @property
    def num_views(self) -> int:
        """Number of views produced."""
        return len(self.pipelines)

    def transform(self, results: dict) -> dict:
        """Build the views (None if a pipeline dropped the sample)."""
        img = results['img']
        if isinstance(img, (list, tuple)):
            if len(img) != self.num_views:
                raise ValueError(
                    f'PairedMultiView: {len(img)} frames for '
                    f'{self.num_views} view pipelines '
                    f"({results.get('filename', results.get('img_path'))})")
            sources = list(img)
        else:
            # every view needs its own array: transforms may work in place
            sources = [img] + [np.copy(img) for _ in range(self.num_views - 1)]
        rest = {k: v for k, v in results.items() if k != 'img'}
        views = []
        for pipeline, source in zip(self.pipelines, sources):
            view = copy.deepcopy(rest)
            view['img'] = source
            view['img_shape'] = view['ori_shape'] = source.shape[:2]
            out = pipeline(view)
            if out is None:
                return None
            views.append(out['img'])
        results['img'] = views
        results['img_shape'] = views[0].shape[:2]
        return results

    def __repr__(self) -> str:
        body = ''.join(f'\n  view {i + 1}: {p}'
                       for i, p in enumerate(self.pipelines))
        return f'{self.__class__.__name__}({body})'
