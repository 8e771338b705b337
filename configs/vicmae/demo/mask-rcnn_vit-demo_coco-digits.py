# Demo detection + instance segmentation (make demo): the ViTDet Mask R-CNN
# recipe (plain ViT with windowed + global attention and relative
# positions, simple feature pyramid with 2-D LayerNorm, 4conv1fc box head,
# large-scale-jitter style resize + crop, AdamW with layer-wise lr decay,
# CocoMetric box and mask AP) with only sizes, data and schedule changed:
# the demo encoder (_base_/demo_sizes.py) on the embedded 64 px COCO-format
# digit set (10 categories; coco/annotations/instances_{train,val}.json
# written by tools/data/demo/generate_demo_data.py).
#
#   python tools/train.py configs/vicmae/demo/mask-rcnn_vit-demo_coco-digits.py \
#       --cfg-options model.backbone.init_cfg.checkpoint=work_dirs/pretrain_demo/iter_500.pth
_base_ = [
    '../benchmarks/mmdet/'
    'mask-rcnn_vit-base-p16_vicmae-pre_16xb4-lsj-100e_coco-instance.py',
    './_base_/demo_sizes.py',
]

arch = _base_.demo_arch
patch_size = _base_.demo_patch_size
data_root = _base_.demo_data_root + 'coco/'
image_size = (64, 64)
channels = 32
metainfo = dict(classes=tuple(str(d) for d in range(10)))
num_classes = len(metainfo['classes'])

model = dict(
    data_preprocessor=dict(
        batch_augments=[
            dict(type='BatchFixedSizePad', size=image_size, pad_mask=True)
        ]),
    backbone=dict(
        arch=dict(_delete_=True, **arch),
        img_size=image_size,
        patch_size=patch_size,
        # 8 x 8 tokens: 4 x 4 windows, global attention in the last block of
        # each half (ViTDet: every third block of twelve)
        window_size=4,
        global_attn_indexes=(1, 3),
        init_cfg=dict(checkpoint='work_dirs/pretrain_demo/iter_500.pth')),
    # stride-8 tokens -> pyramid at strides 4, 8, 16 (+ 32, 64 pooled)
    neck=dict(
        in_channels=arch['embed_dims'],
        out_channels=channels,
        scale_factors=(2.0, 1.0, 0.5)),
    rpn_head=dict(
        in_channels=channels,
        feat_channels=channels,
        # digits are 16-26 px: anchors of 16 px at stride 4
        anchor_generator=dict(scales=[4])),
    roi_head=dict(
        bbox_roi_extractor=dict(out_channels=channels),
        mask_roi_extractor=dict(out_channels=channels),
        bbox_head=dict(
            in_channels=channels,
            conv_out_channels=channels,
            fc_out_channels=64,
            num_classes=num_classes),
        mask_head=dict(
            in_channels=channels,
            conv_out_channels=channels,
            num_classes=num_classes)),
    train_cfg=dict(
        rpn=dict(sampler=dict(num=64)),
        rpn_proposal=dict(nms_pre=200, max_per_img=100),
        rcnn=dict(sampler=dict(num=64))),
    test_cfg=dict(
        rpn=dict(nms_pre=200, max_per_img=100),
        rcnn=dict(max_per_img=20)))


def _demo_size(step):
    """A recipe transform at the demo's image size (jitter 0.5-2x: the
    recipe's 0.1x would shrink a 64 px digit canvas to 6 px)."""
    kind = step['type']
    if kind == 'RandomResize':
        return dict(step, scale=image_size, ratio_range=(0.5, 2.0))
    if kind == 'RandomCrop':
        return dict(step, crop_size=image_size)
    if kind == 'Resize':
        return dict(step, scale=image_size)
    if kind == 'Pad':
        return dict(step, size=image_size)
    return step


train_pipeline = [_demo_size(t) for t in _base_.train_pipeline]
test_pipeline = [_demo_size(t) for t in _base_.test_pipeline]
del _demo_size

train_dataloader = dict(
    batch_size=8,
    num_workers=1,
    dataset=dict(
        times=1,
        dataset=dict(
            data_root=data_root,
            ann_file='annotations/instances_train.json',
            data_prefix=dict(img='train/'),
            metainfo=metainfo,
            pipeline=train_pipeline)))
val_dataloader = dict(
    batch_size=10,
    num_workers=1,
    dataset=dict(
        data_root=data_root,
        ann_file='annotations/instances_val.json',
        data_prefix=dict(img='val/'),
        metainfo=metainfo,
        pipeline=test_pipeline))
test_dataloader = val_dataloader
val_evaluator = dict(ann_file=data_root + 'annotations/instances_val.json')
test_evaluator = val_evaluator

# fp32 on CPU (mmcv's CPU nms / RoIAlign take float32 only); the recipe's
# AdamW + layer decay, lr for a short run at batch 8. 16 epochs: sized for
# the 50 train images (about 110 iterations) that make demo trains on.
max_epochs = 16
optim_wrapper = dict(
    type='OptimWrapper',
    _delete_=True,
    constructor='BackboneLayerDecayOptimWrapperConstructor',
    optimizer=dict(
        type='AdamW', lr=1e-3, betas=(0.9, 0.999), weight_decay=0.1),
    paramwise_cfg=_base_.optim_wrapper.paramwise_cfg)
param_scheduler = [
    dict(type='LinearLR', start_factor=0.001, by_epoch=False, begin=0,
         end=25),
    dict(
        type='MultiStepLR',
        begin=0,
        end=max_epochs,
        by_epoch=True,
        milestones=[max_epochs - 1],
        gamma=0.1)
]
train_cfg = dict(max_epochs=max_epochs, val_interval=max_epochs)
auto_scale_lr = dict(base_batch_size=8)
default_hooks = dict(
    logger=dict(interval=10),
    checkpoint=dict(interval=max_epochs, max_keep_ckpts=1))
env_cfg = dict(dist_cfg=dict(backend='gloo'))
# a fixed seed, as in the pretraining and mmpretrain demo runs: the demo's
# summary must be the same every time (mmaction2's / mmdet's own runtime
# draws a new seed per run)
randomness = dict(seed=0, diff_rank_seed=True)
