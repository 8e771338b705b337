# Copyright (c) vicmae_mm contributors. All rights reserved.
from .token_pooling_neck import TokenPoolingNeck
from .vicmae_pretrain_decoder import ViCMAEPretrainDecoder

__all__ = ['TokenPoolingNeck', 'ViCMAEPretrainDecoder']
