# ViC-MAE ViT-L/16 -> Mask R-CNN on COCO, ViTDet recipe: as ViT-B with
# global attention in blocks 5, 11, 17, 23, drop path 0.4 and layer-wise
# lr decay 0.8 (same LSJ-1024 100-epoch schedule, AdamW lr 1e-4, wd 0.1,
# mixed precision). Set `with_cp=True` if GPU memory is short.
#
# Pretrained weights: --cfg-options model.backbone.init_cfg.checkpoint=PATH
_base_ = [
    './mask-rcnn_vit-base-p16_vicmae-pre_16xb4-lsj-100e_coco-instance.py'
]

pretrained = 'work_dirs/pretrain_vitl/epoch_800.pth'
model = dict(
    backbone=dict(
        arch='large',
        global_attn_indexes=(5, 11, 17, 23),
        drop_path_rate=0.4,
        init_cfg=dict(checkpoint=pretrained)),
    neck=dict(in_channels=1024))

optim_wrapper = dict(paramwise_cfg=dict(layer_decay_rate=0.8))
