# Cheap transfer: the ViC-MAE ViT-B/16 image encoder runs on each of 8
# frames (interval 8) separately, features are averaged over time. No
# kernel inflation, no temporal embedding, attention within a frame only,
# so it costs about 8 image forward passes per clip; suited to
# appearance-driven data such as Kinetics, not to SSv2.
_base_ = ['./vit-base-p16_vicmae-pre_8xb8-16x4x1-75e_kinetics400-rgb.py']

model = dict(
    backbone=dict(mode='framewise', tubelet_size=1, num_frames=8))

sampling = dict(clip_len=8, frame_interval=8)
train_pipeline = [
    dict(type='DecordInit'),
    dict(type='SampleFrames', num_clips=1, **sampling),
    dict(type='DecordDecode'),
    dict(type='Resize', scale=(-1, 256)),
    dict(type='RandomResizedCrop'),
    dict(type='Resize', scale=(224, 224), keep_ratio=False),
    dict(type='Flip', flip_ratio=0.5),
    dict(type='TorchVisionWrapper', op='RandAugment', num_ops=4, magnitude=7),
    dict(type='RandomErasing', erase_prob=0.25, mode='rand'),
    dict(type='FormatShape', input_format='NCTHW'),
    dict(type='PackActionInputs')
]
val_pipeline = [
    dict(type='DecordInit'),
    dict(type='SampleFrames', num_clips=1, test_mode=True, **sampling),
    dict(type='DecordDecode'),
    dict(type='Resize', scale=(-1, 256)),
    dict(type='CenterCrop', crop_size=224),
    dict(type='FormatShape', input_format='NCTHW'),
    dict(type='PackActionInputs')
]
test_pipeline = [
    dict(type='DecordInit'),
    dict(type='SampleFrames', num_clips=5, test_mode=True, **sampling),
    dict(type='DecordDecode'),
    dict(type='Resize', scale=(-1, 224)),
    dict(type='ThreeCrop', crop_size=224),
    dict(type='FormatShape', input_format='NCTHW'),
    dict(type='PackActionInputs')
]
train_dataloader = dict(dataset=dict(pipeline=train_pipeline))
val_dataloader = dict(dataset=dict(pipeline=val_pipeline))
test_dataloader = dict(dataset=dict(pipeline=test_pipeline))

max_epochs = 30
warmup_epochs = 5
train_cfg = dict(max_epochs=max_epochs)
param_scheduler = [
    dict(
        type='LinearLR',
        start_factor=1e-3,
        by_epoch=True,
        begin=0,
        end=warmup_epochs,
        convert_to_iter_based=True),
    dict(
        type='CosineAnnealingLR',
        T_max=max_epochs - warmup_epochs,
        eta_min=1e-6,
        by_epoch=True,
        begin=warmup_epochs,
        end=max_epochs,
        convert_to_iter_based=True)
]
