# Copyright (c) vicmae_mm contributors. All rights reserved.
from .decode_frame_pair import DecodeFramePair
from .open_video import OpenVideo
from .paired_multi_view import PairedMultiView
from .sample_frame_pair import SampleFramePair

__all__ = [
    'OpenVideo', 'SampleFramePair', 'DecodeFramePair', 'PairedMultiView'
]
