# Copyright (c) vicmae_mm contributors. All rights reserved.
"""Errors loading one training sample (:mod:`.robust_fetch` skips them)."""


class SampleLoadError(OSError):
    """A sample's file (named in the message) cannot be loaded.

    An :class:`OSError`: an input problem, not a bug.
    """


class VideoReadError(SampleLoadError):
    """A video cannot be opened or decoded, or cannot give a frame pair."""
