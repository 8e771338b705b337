# Copyright (c) vicmae_mm contributors. All rights reserved.
"""Figures of masked reconstructions."""
from .reconstruction import (ROW_NAMES, compose_grid, model_input_size,
                             read_views, reconstruct, reconstruction_grid)

__all__ = [
    'ROW_NAMES', 'compose_grid', 'model_input_size', 'read_views',
    'reconstruct', 'reconstruction_grid'
]
