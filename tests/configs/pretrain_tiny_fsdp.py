# The CPU-sized ViC-MAE of pretrain_tiny.py with the FSDP recipe of
# configs/vicmae/strategies/pretrain_vith_fsdp.py: its strategy base and its
# model / optim_wrapper lines (tests/test_perf/test_fsdp_train.py checks
# they stay the same).
_base_ = [
    './pretrain_tiny.py',
    '../../configs/vicmae/strategies/_base_/fsdp_bf16.py',
]
model = dict(
    backbone=dict(with_cp=True),
    neck=dict(type='ViCMAEPretrainDecoder', with_cp=True))
# deterministic views (no random crop / flip): a resumed run then sees the
# inputs of the uninterrupted run (masks: IterationSeedHook)
train_dataloader = dict(
    dataset=dict(pipeline=[
        dict(type='LoadImageFromFile'),
        dict(
            type='MultiView',
            num_views=2,
            transforms=[[dict(type='CenterCrop', crop_size=32)]]),
        dict(type='PackInputs'),
    ]))
# (the ViT-H line has `_delete_=True` in loss_scale: its base sets 'dynamic')
optim_wrapper = dict(
    type='AmpOptimWrapper', dtype='bfloat16', loss_scale=dict(enabled=False))
