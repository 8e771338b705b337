# Copyright (c) vicmae_mm contributors. All rights reserved.
"""ViC-MAE pretraining data (see docs/data_preparation.md)."""
from .annotation_lists import (AnnotationFormatError, parse_annotation_list,
                               scan_folder)
from .mixed_pair_dataset import MixedPairDataset
from .mixed_ratio_sampler import MixedRatioSampler
from .sample_errors import SampleLoadError, VideoReadError
from .transforms import (DecodeFramePair, OpenVideo, PairedMultiView,
                         SampleFramePair)
from .video_frame_pair_dataset import VideoFramePairDataset

__all__ = [
    'AnnotationFormatError', 'parse_annotation_list', 'scan_folder',
    'MixedPairDataset', 'MixedRatioSampler', 'SampleLoadError',
    'VideoReadError', 'DecodeFramePair', 'OpenVideo', 'PairedMultiView',
    'SampleFramePair', 'VideoFramePairDataset'
]
