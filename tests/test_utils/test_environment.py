# Copyright (c) vicmae_mm contributors. All rights reserved.
"""The installed stack works: compiled mmcv ops on CPU, decord on real mp4."""
import subprocess
import sys

import numpy as np
import torch


def test_stack_imports_in_one_process():
    code = ('import vicmae_mm, mmpretrain.models, mmaction.models, '
            'mmdet.models, mmcv.ops, decord')
    subprocess.run([sys.executable, '-c', code], check=True)


def test_mmaction_models_import_needs_placeholder_only_if_missing():
    import os.path as osp
    import importlib.util
    import mmaction.models.localizers as loc
    from vicmae_mm.utils.compat import _MissingDRN
    spec = importlib.util.find_spec('mmaction')
    shipped = osp.isdir(
        osp.join(osp.dirname(spec.origin), 'models', 'localizers', 'drn'))
    assert (loc.DRN is _MissingDRN) == (not shipped)


def test_mmcv_compiled_nms_on_cpu():
    from mmcv.ops import nms
    boxes = torch.tensor([[0, 0, 10, 10], [1, 1, 11, 11], [20, 20, 30, 30]],
                         dtype=torch.float32)
    scores = torch.tensor([0.9, 0.8, 0.7])
    dets, keep = nms(boxes, scores, iou_threshold=0.5)
    assert keep.tolist() == [0, 2]
    assert torch.allclose(dets[:, 4], torch.tensor([0.9, 0.7]))


def test_mmcv_compiled_roi_align_on_cpu():
    from mmcv.ops import RoIAlign
    from torchvision.ops import roi_align
    feat = torch.randn(2, 3, 16, 16, generator=torch.Generator().manual_seed(0))
    rois = torch.tensor([[0, 1.0, 2.0, 9.5, 12.0], [1, 0.0, 0.0, 15.0, 7.0]])
    for aligned in (False, True):
        out = RoIAlign((4, 4), spatial_scale=0.5, sampling_ratio=2,
                       aligned=aligned)(feat, rois)
        # torchvision's independent implementation of the same op
        ref = roi_align(feat, rois, (4, 4), spatial_scale=0.5,
                        sampling_ratio=2, aligned=aligned)
        assert out.shape == (2, 3, 4, 4)
        assert torch.allclose(out, ref, atol=1e-5)


def test_decord_decodes_mp4_written_here(tmp_path):
    import cv2
    import decord
    path = str(tmp_path / 'ramp.mp4')
    writer = cv2.VideoWriter(path, cv2.VideoWriter_fourcc(*'mp4v'), 10,
                             (64, 48))
    for i in range(12):
        writer.write(np.full((48, 64, 3), i * 20, np.uint8))
    writer.release()
    vr = decord.VideoReader(path)
    assert len(vr) == 12
    assert abs(vr.get_avg_fps() - 10) < 1e-3
    frames = vr.get_batch([0, 5, 11]).asnumpy()
    assert frames.shape == (3, 48, 64, 3)
    assert np.abs(frames.mean(axis=(1, 2, 3)) - [0, 100, 220]).max() < 4
