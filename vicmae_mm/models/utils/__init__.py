# Copyright (c) vicmae_mm contributors. All rights reserved.
from .dist_utils import (all_gather_with_grad,  # noqa: F401
                         all_reduce_sum_with_grad, any_rank, get_dist_info)
from .global_batch_norm import GlobalBatchNorm1d  # noqa: F401
