# ViC-MAE ViT-L/16 on Kinetics-400: the ViT-B recipe with the large
# encoder, layer decay 0.8, drop path 0.2, activation checkpointing and
# 50 epochs.
_base_ = ['./vit-base-p16_vicmae-pre_8xb8-16x4x1-75e_kinetics400-rgb.py']

pretrained = 'work_dirs/pretrain_vitl/epoch_800.pth'
model = dict(
    backbone=dict(
        arch='large',
        drop_path_rate=0.2,
        with_cp=True,
        init_cfg=dict(checkpoint=pretrained)),
    cls_head=dict(in_channels=1024))
optim_wrapper = dict(paramwise_cfg=dict(decay_rate=0.8, num_layers=24))

max_epochs = 50
train_cfg = dict(max_epochs=max_epochs)
param_scheduler = [
    _base_.param_scheduler[0],
    dict(
        _base_.param_scheduler[1],
        T_max=max_epochs - _base_.warmup_epochs,
        end=max_epochs)
]
