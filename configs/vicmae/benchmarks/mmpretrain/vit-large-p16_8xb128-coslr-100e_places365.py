# ViC-MAE ViT-L/16 fine-tuning on Places365-Standard (the ImageNet-1k
# recipe with 365 classes; data layout as in the ViT-B config).
#
# Pretrained weights: --cfg-options
#   model.backbone.init_cfg.checkpoint=work_dirs/pretrain_vitl/epoch_800.pth
_base_ = ['./vit-base-p16_8xb128-coslr-100e_places365.py']

model = dict(
    backbone=dict(
        arch='large',
        init_cfg=dict(checkpoint='work_dirs/pretrain_vitl/epoch_800.pth')),
    head=dict(in_channels=1024))
