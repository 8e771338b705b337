# Copyright (c) vicmae_mm contributors. All rights reserved.
"""Errors raised while loading one training sample.

A :class:`SampleLoadError` means "this file cannot give a sample" (missing,
empty, corrupt, too short...). Pretraining datasets catch it, count and log
the file, and resample another item (see :mod:`.robust_fetch`); used
outside those datasets it is an ordinary, clear exception naming the file.
It subclasses :class:`OSError` because it is an input problem, not a bug.
"""


class SampleLoadError(OSError):
    """A sample's file cannot be loaded; the message names the file."""


class VideoReadError(SampleLoadError):
    """A video cannot be opened or decoded, or cannot give a frame pair."""
