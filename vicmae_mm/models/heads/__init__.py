# Copyright (c) vicmae_mm contributors. All rights reserved.
from .infonce_head import InfoNCEHead  # noqa: F401
