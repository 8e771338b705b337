# ViC-MAE ViT-L/16 fine-tuning on ImageNet-1k with the released
# hyper-parameters (identical to ViT-B: 100 epochs, batch 1024, lr 2e-3,
# layer decay 0.65, drop path 0.1) and our mean-pooled classifier input
# (cls token as released: configs/vicmae/released/). The paper reports
# 87.1% top-1 for ViT-L pretrained with extra data.
#
# Pretrained weights: --cfg-options
#   model.backbone.init_cfg.checkpoint=work_dirs/pretrain_vitl/epoch_800.pth
_base_ = ['./vit-base-p16_8xb128-coslr-100e_in1k.py']

model = dict(
    backbone=dict(
        arch='large',
        init_cfg=dict(checkpoint='work_dirs/pretrain_vitl/epoch_800.pth')),
    head=dict(in_channels=1024))
