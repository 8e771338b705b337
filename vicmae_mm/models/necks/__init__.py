# Copyright (c) vicmae_mm contributors. All rights reserved.
from .token_pooling_neck import TokenPoolingNeck  # noqa: F401
from .vicmae_pretrain_decoder import ViCMAEPretrainDecoder  # noqa: F401
