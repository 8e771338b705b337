# Demo fine-tuning (make demo): the ViT-B/16 ImageNet fine-tuning recipe
# (AdamW, layer-wise lr decay 0.65, drop path 0.1, RandAugment, random
# erasing, mixup / cutmix, label smoothing, warm-up + cosine; classifier on
# the mean of the patch tokens after the pretrained final norm) with only
# sizes, data and schedule changed: the demo encoder (_base_/demo_sizes.py)
# on the embedded 32 px digit images (10 classes, images/{train,val}.txt
# written by tools/data/demo/generate_demo_data.py).
#
#   python tools/train.py configs/vicmae/demo/vit-demo_finetune_digits.py \
#       --cfg-options model.backbone.init_cfg.checkpoint=work_dirs/pretrain_demo/iter_500.pth
_base_ = [
    '../benchmarks/mmpretrain/vit-base-p16_8xb128-coslr-100e_in1k.py',
    './_base_/demo_sizes.py',
]

arch = _base_.demo_arch
img_size = _base_.demo_img_size
data_root = _base_.demo_data_root + 'images/'
num_classes = 10

model = dict(
    backbone=dict(
        arch=dict(_delete_=True, **arch),
        img_size=img_size,
        patch_size=_base_.demo_patch_size,
        init_cfg=dict(checkpoint='work_dirs/pretrain_demo/iter_500.pth')),
    head=dict(num_classes=num_classes, in_channels=arch['embed_dims']))
data_preprocessor = dict(num_classes=num_classes)

# The recipe's pipelines at 32 px: crops keep at least 35% of the canvas
# (as in pretrain_demo.py: 8% of a 32 px canvas is a 9 px piece of one
# stroke), and the test resize keeps the whole canvas.
train_pipeline = [
    dict(t, scale=img_size, crop_ratio_range=(0.35, 1.0))
    if t['type'] == 'RandomResizedCrop' else t
    for t in _base_.train_pipeline
]
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(
        type='ResizeEdge',
        scale=img_size,
        edge='short',
        backend='pillow',
        interpolation='bicubic'),
    dict(type='CenterCrop', crop_size=img_size),
    dict(type='PackInputs'),
]
train_dataloader = dict(
    batch_size=64,
    num_workers=1,
    persistent_workers=True,
    dataset=dict(
        _delete_=True,
        type='CustomDataset',
        data_root=data_root,
        ann_file='train.txt',
        pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=256,
    num_workers=1,
    persistent_workers=True,
    dataset=dict(
        _delete_=True,
        type='CustomDataset',
        data_root=data_root,
        ann_file='val.txt',
        pipeline=test_pipeline))
test_dataloader = val_dataloader
val_evaluator = dict(type='Accuracy', topk=(1, ))
test_evaluator = val_evaluator

# AdamW with layer decay as in the recipe, fp32 on CPU; lr for a short run
max_epochs = 10
warmup_epochs = 1
optim_wrapper = dict(
    type='OptimWrapper', _delete_=True,
    optimizer=dict(
        type='AdamW', lr=1e-3, weight_decay=0.05, betas=(0.9, 0.999)),
    constructor='LearningRateDecayOptimWrapperConstructor',
    paramwise_cfg=_base_.optim_wrapper.paramwise_cfg)
param_scheduler = [
    dict(
        type='LinearLR',
        start_factor=1e-4,
        by_epoch=True,
        begin=0,
        end=warmup_epochs,
        convert_to_iter_based=True),
    dict(
        type='CosineAnnealingLR',
        T_max=max_epochs - warmup_epochs,
        by_epoch=True,
        begin=warmup_epochs,
        end=max_epochs,
        eta_min=1e-6,
        convert_to_iter_based=True)
]
train_cfg = dict(by_epoch=True, max_epochs=max_epochs, val_interval=max_epochs)
auto_scale_lr = dict(base_batch_size=64)
default_hooks = dict(
    logger=dict(interval=10),
    checkpoint=dict(interval=max_epochs, max_keep_ckpts=1))
env_cfg = dict(dist_cfg=dict(backend='gloo'))
