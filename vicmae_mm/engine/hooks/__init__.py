# Copyright (c) vicmae_mm contributors. All rights reserved.
from .data_skip_summary_hook import DataSkipSummaryHook
from .knn_monitor_hook import KNNMonitorHook
from .reconstruction_vis_hook import ReconstructionVisHook
from .weights_only_checkpoint_hook import WeightsOnlyCheckpointHook

__all__ = [
    'DataSkipSummaryHook', 'KNNMonitorHook', 'ReconstructionVisHook',
    'WeightsOnlyCheckpointHook'
]
