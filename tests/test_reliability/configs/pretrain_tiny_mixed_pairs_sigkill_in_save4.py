# pretrain_tiny_mixed_pairs.py, killed (SIGKILL) halfway through writing the
# checkpoint of iteration 4: iter_2.pth must stay the resumable one.
_base_ = ['./pretrain_tiny_mixed_pairs.py']

custom_imports = dict(
    imports=['vicmae_mm', 'sigkill_hooks'], allow_failed_imports=False)
custom_hooks = _base_.custom_hooks + [
    dict(type='SigkillDuringCheckpointWriteHook', at_iter=4)
]
