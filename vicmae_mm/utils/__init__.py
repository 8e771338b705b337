# Copyright (c) vicmae_mm contributors. All rights reserved.
from .checkpoint import (UnsafeCheckpointError, safe_torch_load,
                         trust_checkpoint)

__all__ = ['UnsafeCheckpointError', 'safe_torch_load', 'trust_checkpoint']
