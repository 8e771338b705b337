# A CPU-sized ViC-MAE for tests: the real model/schedule/runtime bases with
# only sizes and data changed. Tests set `train_dataloader.dataset.data_root`.
_base_ = [
    '../../configs/_base_/models/vicmae_vit-base-p16.py',
    '../../configs/_base_/schedules/adamw_800e_warmup40.py',
    '../../configs/_base_/default_runtime.py',
]
tiny_arch = dict(
    _delete_=True,
    embed_dims=32,
    num_layers=2,
    num_heads=2,
    feedforward_channels=64)
model = dict(
    backbone=dict(arch=tiny_arch, img_size=32, patch_size=8),
    neck=dict(
        num_patches=16,
        patch_size=8,
        embed_dim=32,
        decoder_embed_dim=32,
        decoder_depth=1,
        decoder_num_heads=2),
    head=dict(patch_size=8),
    pool_neck=dict(in_channels=32),
    projector=dict(in_channels=32, hid_channels=64, out_channels=16))

view_pipeline = [
    dict(type='RandomResizedCrop', scale=32, crop_ratio_range=(0.5, 1.0)),
    dict(type='RandomFlip', prob=0.5),
]
train_dataloader = dict(
    batch_size=4,
    num_workers=0,
    sampler=dict(type='DefaultSampler', shuffle=True),
    collate_fn=dict(type='default_collate'),
    dataset=dict(
        type='CustomDataset',
        data_root='',
        with_label=False,
        pipeline=[
            dict(type='LoadImageFromFile'),
            dict(type='MultiView', num_views=2, transforms=[view_pipeline]),
            dict(type='PackInputs'),
        ]))

optim_wrapper = dict(
    _delete_=True,
    type='OptimWrapper',
    optimizer=dict(
        type='AdamW', lr=1e-3, betas=(0.9, 0.95), weight_decay=0.05))
param_scheduler = [
    dict(type='LinearLR', start_factor=0.1, by_epoch=False, begin=0, end=2)
]
train_cfg = dict(_delete_=True, type='IterBasedTrainLoop', max_iters=4)
default_hooks = dict(
    checkpoint=dict(interval=2, by_epoch=False),
    logger=dict(interval=1))
env_cfg = dict(dist_cfg=dict(backend='gloo'))
randomness = dict(seed=0, deterministic=False)
auto_scale_lr = dict(enable=False)
