# Copyright (c) vicmae_mm contributors. All rights reserved.
"""Keep saved checkpoints loadable with ``torch.load(weights_only=True)``."""
from mmengine.hooks import Hook
from mmengine.registry import HOOKS

from vicmae_mm.utils.checkpoint import (plain_checkpoint,
                                        restore_message_hub_state)


@HOOKS.register_module()
class WeightsOnlyCheckpointHook(Hook):
    """Store plain Python values instead of pickled objects in checkpoints.

    mmengine's message-hub ``HistoryBuffer`` objects pickle ``getattr``;
    this saves them as float lists and rebuilds them on load. In mmengine's
    root registry, so any scope can name it.
    """

    priority = 'VERY_HIGH'

    def before_save_checkpoint(self, runner, checkpoint: dict) -> None:
        """Convert the message hub and meta to plain values."""
        plain_checkpoint(checkpoint)

    def after_load_checkpoint(self, runner, checkpoint: dict) -> None:
        """Rebuild ``HistoryBuffer`` objects before the hub loads them."""
        if 'message_hub' in checkpoint:
            checkpoint['message_hub'] = restore_message_hub_state(
                checkpoint['message_hub'])
