# Cheap transfer: the ViC-MAE ViT-B/16 image encoder runs on each of 8
# frames (interval 8) separately, features are averaged over time. No
# kernel inflation, no temporal embedding, attention within a frame only,
# so it costs about 8 image forward passes per clip; suited to
# appearance-driven data such as Kinetics, not to SSv2.
_base_ = ['./vit-base-p16_vicmae-pre_8xb8-16x4x1-75e_kinetics400-rgb.py']

model = dict(
    backbone=dict(mode='framewise', tubelet_size=1, num_frames=8))

# the Kinetics pipelines with 8 frames at interval 8
sampling = dict(clip_len=8, frame_interval=8)
train_pipeline, val_pipeline, test_pipeline = (
    [dict(step, **sampling) if step.type == 'SampleFrames' else step
     for step in pipeline]
    for pipeline in (_base_.train_pipeline, _base_.val_pipeline,
                     _base_.test_pipeline))
train_dataloader = dict(dataset=dict(pipeline=train_pipeline))
val_dataloader = dict(dataset=dict(pipeline=val_pipeline))
test_dataloader = dict(dataset=dict(pipeline=test_pipeline))

max_epochs = 30
train_cfg = dict(max_epochs=max_epochs)
param_scheduler = [
    _base_.param_scheduler[0],
    dict(
        _base_.param_scheduler[1],
        T_max=max_epochs - _base_.warmup_epochs,
        end=max_epochs)
]
