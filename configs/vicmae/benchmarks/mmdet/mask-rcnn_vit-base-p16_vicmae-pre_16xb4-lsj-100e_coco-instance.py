# ViC-MAE ViT-B/16 -> Mask R-CNN on COCO, ViTDet recipe (Li et al. 2022):
# plain ViT with windowed attention (14x14) and global attention in blocks
# 2, 5, 8, 11, decomposed relative positions, simple feature pyramid with
# 2-D LayerNorm, 4conv1fc box head and mask head with LayerNorm, 2-conv RPN;
# large-scale jitter at 1024 (scale 0.1-2.0), 100 epochs at total batch 64
# (16 GPUs x 4), AdamW lr 1e-4, weight decay 0.1, layer-wise lr decay 0.7,
# drop path 0.1, mixed precision.
#
# mmdet's stock LSJ-100e COCO instance schedule and Mask R-CNN model are
# inherited; only what ViTDet changes is set here.
#
# Pretrained weights (a ViC-MAE pretraining checkpoint; `backbone.` keys):
#   --cfg-options model.backbone.init_cfg.checkpoint=PATH
# Loading logs as expected: missing `layers.{i}.attn.rel_pos_{h,w}`,
# unexpected `cls_token`, `ln1.weight`, `ln1.bias` (docs/benchmarks/mmdet.md)
# ../../../_base_/safe_checkpoints.py loads vicmae_mm (ViTDet,
# SimpleFeaturePyramid, the layer-decay constructor, weights-only loading).
_base_ = [
    'mmdet::_base_/models/mask-rcnn_r50_fpn.py',
    'mmdet::common/lsj-100e_coco-instance.py',
    '../../../_base_/safe_checkpoints.py',
]

pretrained = 'work_dirs/pretrain_vitb/epoch_800.pth'
image_size = (1024, 1024)
# 2-D LayerNorm (mmpretrain's LN2d) in the neck and RoI heads, as ViTDet
norm_cfg = dict(type='mmpretrain.LN2d', requires_grad=True)

model = dict(
    data_preprocessor=dict(
        pad_size_divisor=32,
        # every training batch is padded to 1024x1024 (LSJ)
        batch_augments=[
            dict(type='BatchFixedSizePad', size=image_size, pad_mask=True)
        ]),
    backbone=dict(
        _delete_=True,
        type='ViTDet',
        arch='base',
        img_size=image_size,
        patch_size=16,
        window_size=14,
        global_attn_indexes=(2, 5, 8, 11),
        use_rel_pos=True,
        drop_path_rate=0.1,
        with_cp=False,
        init_cfg=dict(
            type='Pretrained', checkpoint=pretrained, prefix='backbone.')),
    neck=dict(
        _delete_=True,
        type='SimpleFeaturePyramid',
        in_channels=768,
        out_channels=256,
        scale_factors=(4.0, 2.0, 1.0, 0.5),
        num_outs=5,
        norm_cfg=norm_cfg),
    rpn_head=dict(num_convs=2),
    roi_head=dict(
        bbox_head=dict(
            type='Shared4Conv1FCBBoxHead',
            conv_out_channels=256,
            norm_cfg=norm_cfg),
        mask_head=dict(norm_cfg=norm_cfg)))

# Test: resize the long side to 1024 and pad to 1024x1024 with the mean
# pixel (0 after normalisation), like ViTDet's square padding.
test_pipeline = [
    dict(type='LoadImageFromFile', backend_args=None),
    dict(type='Resize', scale=image_size, keep_ratio=True),
    dict(
        type='Pad',
        size=image_size,
        pad_val=dict(img=(104, 116, 124))),  # BGR mean
    dict(type='LoadAnnotations', with_bbox=True, with_mask=True),
    dict(
        type='PackDetInputs',
        meta_keys=('img_id', 'img_path', 'ori_shape', 'img_shape',
                   'scale_factor'))
]
train_dataloader = dict(batch_size=4, num_workers=8)
val_dataloader = dict(dataset=dict(pipeline=test_pipeline))
test_dataloader = val_dataloader

# AdamW with layer-wise lr decay: patch/pos embedding lr x 0.7^13, block i
# x 0.7^(12-i), neck and heads x 1. No weight decay on norms and pos_embed.
optim_wrapper = dict(
    _delete_=True,
    type='AmpOptimWrapper',
    loss_scale='dynamic',
    constructor='BackboneLayerDecayOptimWrapperConstructor',
    optimizer=dict(
        type='AdamW', lr=1e-4, betas=(0.9, 0.999), weight_decay=0.1),
    paramwise_cfg=dict(
        layer_decay_rate=0.7,
        norm_decay_mult=0.,
        custom_keys={'pos_embed': dict(decay_mult=0.)}))

# 25 epochs over the 4x repeated train set = 100 COCO epochs (~184k
# iterations at batch 64); warm-up 250 iterations, lr x0.1 at 88% and 96%.
max_epochs = 25
param_scheduler = [
    dict(
        type='LinearLR', start_factor=0.001, by_epoch=False, begin=0,
        end=250),
    dict(
        type='MultiStepLR',
        begin=0,
        end=max_epochs,
        by_epoch=True,
        milestones=[22, 24],
        gamma=0.1)
]
train_cfg = dict(max_epochs=max_epochs)

default_hooks = dict(
    checkpoint=dict(backend_args=dict(backend='atomic_local')))
custom_hooks = _base_.custom_hooks + [dict(type='NonFiniteLossHook')]
auto_scale_lr = dict(base_batch_size=64)
