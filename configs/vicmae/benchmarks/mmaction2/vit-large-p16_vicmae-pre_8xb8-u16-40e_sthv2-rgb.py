# ViC-MAE ViT-L/16 on Something-Something-v2 (the paper's 75.9% setting):
# the ViT-B recipe with the large encoder, milder layer decay (0.8), drop
# path 0.2 and activation checkpointing to fit 16-frame clips in memory.
_base_ = ['./vit-base-p16_vicmae-pre_8xb8-u16-40e_sthv2-rgb.py']

pretrained = 'work_dirs/pretrain_vitl/epoch_800.pth'
model = dict(
    backbone=dict(
        arch='large',
        drop_path_rate=0.2,
        with_cp=True,
        init_cfg=dict(checkpoint=pretrained)),
    cls_head=dict(in_channels=1024))
optim_wrapper = dict(paramwise_cfg=dict(decay_rate=0.8, num_layers=24))
