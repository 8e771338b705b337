# Copyright (c) vicmae_mm contributors. All rights reserved.
"""Errors raised while loading one training sample (see
:mod:`.robust_fetch` for how datasets skip them)."""


class SampleLoadError(OSError):
    """A sample's file cannot be loaded; the message names the file.

    An :class:`OSError` because it is an input problem, not a bug.
    """


class VideoReadError(SampleLoadError):
    """A video cannot be opened or decoded, or cannot give a frame pair."""
