# ViC-MAE ViT-L/16 linear probing on ImageNet-1k (recipe as ViT-B).
#
# Pretrained weights: --cfg-options
#   model.backbone.init_cfg.checkpoint=work_dirs/pretrain_vitl/epoch_800.pth
_base_ = ['./vit-base-p16_8xb2048-linear-coslr-90e_in1k.py']

model = dict(
    backbone=dict(
        arch='large',
        frozen_stages=24,
        init_cfg=dict(checkpoint='work_dirs/pretrain_vitl/epoch_800.pth')),
    neck=[
        dict(type='GlobalAveragePooling'),
        dict(type='ClsBatchNormNeck', input_features=1024),
    ],
    head=dict(in_channels=1024))
