# pretrain_tiny_mixed_pairs.py, killed (SIGKILL) right after iteration 4,
# once its checkpoint is complete: mid-epoch, since an epoch is longer.
_base_ = ['./pretrain_tiny_mixed_pairs.py']

custom_imports = dict(
    imports=['vicmae_mm', 'sigkill_hooks'], allow_failed_imports=False)
custom_hooks = _base_.custom_hooks + [
    dict(type='SigkillAfterIterHook', after_iter=4)
]
