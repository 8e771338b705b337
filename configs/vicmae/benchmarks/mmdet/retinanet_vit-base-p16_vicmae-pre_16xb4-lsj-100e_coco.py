# Dropping the ViC-MAE ViTDet backbone and simple feature pyramid into a
# stock mmdet detector: RetinaNet with mmdet's own model and LSJ-100e COCO
# detection bases; the only additions are vicmae_mm (via
# ../../../_base_/safe_checkpoints.py) and the two modules. The pyramid starts at stride 8 (scale factors 2, 1, 0.5) and two
# max-pooled levels give strides 64 and 128, matching RetinaNet's anchors.
# Optimisation as the Mask R-CNN ViT-B config (AdamW lr 1e-4, wd 0.1,
# layer-wise lr decay 0.7, mixed precision).
#
# Pretrained weights: --cfg-options model.backbone.init_cfg.checkpoint=PATH
_base_ = [
    'mmdet::_base_/models/retinanet_r50_fpn.py',
    'mmdet::common/lsj-100e_coco-detection.py',
    '../../../_base_/safe_checkpoints.py',
]

pretrained = 'work_dirs/pretrain_vitb/epoch_800.pth'
image_size = (1024, 1024)

model = dict(
    data_preprocessor=dict(batch_augments=[
        dict(type='BatchFixedSizePad', size=image_size)
    ]),
    backbone=dict(
        _delete_=True,
        type='ViTDet',
        arch='base',
        img_size=image_size,
        patch_size=16,
        window_size=14,
        drop_path_rate=0.1,
        init_cfg=dict(
            type='Pretrained', checkpoint=pretrained, prefix='backbone.')),
    neck=dict(
        _delete_=True,
        type='SimpleFeaturePyramid',
        in_channels=768,
        out_channels=256,
        scale_factors=(2.0, 1.0, 0.5),
        num_outs=5))

train_dataloader = dict(batch_size=4, num_workers=8)

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
param_scheduler = [
    dict(
        type='LinearLR', start_factor=0.001, by_epoch=False, begin=0,
        end=250),
    dict(
        type='MultiStepLR',
        begin=0,
        end=25,
        by_epoch=True,
        milestones=[22, 24],
        gamma=0.1)
]

default_hooks = dict(
    checkpoint=dict(backend_args=dict(backend='atomic_local')))
custom_hooks = _base_.custom_hooks + [dict(type='NonFiniteLossHook')]
auto_scale_lr = dict(base_batch_size=64)
