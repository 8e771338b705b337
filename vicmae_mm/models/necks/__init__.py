# Copyright (c) vicmae_mm contributors. All rights reserved.
from .token_pooling_neck import TokenPoolingNeck

__all__ = ['TokenPoolingNeck']
