# Demo video classification (make demo): the ViT-B/16 Something-Something-v2
# fine-tuning recipe (the image checkpoint inflated to 2-frame tubelets,
# joint space-time attention, uniformly sampled frames without flips,
# RandAugment, random erasing, mixup / cutmix, label smoothing, AdamW with
# layer-wise lr decay, warm-up + cosine) with only sizes, data and schedule
# changed: the demo encoder (_base_/demo_sizes.py), 8 frames at 32 px, on
# the embedded moving-digits clips whose label is the direction of motion
# (left, right, up, down; videos/{train,val}_list.txt written by
# tools/data/demo/generate_demo_data.py). Every clip's digits start at
# random places, so no single frame tells the classes apart: like SSv2, the
# task needs motion.
#
#   python tools/train.py configs/vicmae/demo/vit-demo_direction_moving-digits.py \
#       --cfg-options model.backbone.init_cfg.checkpoint=work_dirs/pretrain_demo/iter_500.pth
_base_ = [
    '../benchmarks/mmaction2/vit-base-p16_vicmae-pre_8xb8-u16-40e_sthv2-rgb.py',
    './_base_/demo_sizes.py',
]

arch = _base_.demo_arch
img_size = _base_.demo_img_size
data_root = _base_.demo_data_root + 'videos/'
num_classes = 4
num_frames = 8

model = dict(
    backbone=dict(
        arch=dict(_delete_=True, **arch),
        img_size=img_size,
        patch_size=_base_.demo_patch_size,
        num_frames=num_frames,
        init_cfg=dict(checkpoint='work_dirs/pretrain_demo/iter_500.pth')),
    cls_head=dict(num_classes=num_classes, in_channels=arch['embed_dims']),
    data_preprocessor=dict(
        blending=dict(augments=[
            dict(type='MixupBlending', alpha=0.8, num_classes=num_classes),
            dict(type='CutmixBlending', alpha=1.0, num_classes=num_classes)
        ])))


def _demo_size(step):
    """A recipe transform at the demo's frame size."""
    kind = step['type']
    if kind == 'UniformSample':
        return dict(step, clip_len=num_frames)
    if kind == 'Resize' and step['scale'][0] == -1:  # short side
        return dict(step, scale=(-1, img_size))
    if kind == 'Resize':
        return dict(step, scale=(img_size, img_size))
    if kind in ('CenterCrop', 'ThreeCrop'):
        return dict(step, crop_size=img_size)
    return step


train_pipeline = [_demo_size(t) for t in _base_.train_pipeline]
val_pipeline = [_demo_size(t) for t in _base_.val_pipeline]
test_pipeline = [_demo_size(t) for t in _base_.test_pipeline]
del _demo_size

train_dataloader = dict(
    batch_size=8,
    num_workers=1,
    dataset=dict(
        ann_file=data_root + 'train_list.txt',
        data_prefix=dict(video=data_root),
        pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=20,
    num_workers=1,
    dataset=dict(
        ann_file=data_root + 'val_list.txt',
        data_prefix=dict(video=data_root),
        pipeline=val_pipeline))
test_dataloader = dict(
    batch_size=4,
    num_workers=1,
    dataset=dict(
        ann_file=data_root + 'val_list.txt',
        data_prefix=dict(video=data_root),
        pipeline=test_pipeline))

# fp32 on CPU (mmaction2's hard-label loss and bf16 autocast disagree);
# layer decay over the demo encoder's depth; lr for a short run (make demo
# trains on 10 clips per class: 100 iterations)
max_epochs = 20
warmup_epochs = 2
optim_wrapper = dict(
    _delete_=True,
    type='OptimWrapper',
    optimizer=dict(
        type='AdamW', lr=1e-3, betas=(0.9, 0.999), weight_decay=0.05),
    constructor='LearningRateDecayOptimizerConstructor',
    paramwise_cfg=dict(
        decay_rate=0.75,
        decay_type='layer_wise',
        num_layers=arch['num_layers']))
# the recipe's warm-up + cosine, over this run's length
param_scheduler = [
    dict(_base_.param_scheduler[0], end=warmup_epochs),
    dict(
        _base_.param_scheduler[1],
        T_max=max_epochs - warmup_epochs,
        begin=warmup_epochs,
        end=max_epochs)
]
train_cfg = dict(max_epochs=max_epochs, val_begin=1, val_interval=max_epochs)
auto_scale_lr = dict(base_batch_size=8)
default_hooks = dict(
    logger=dict(interval=10),
    checkpoint=dict(interval=max_epochs, max_keep_ckpts=1, save_best=None))
env_cfg = dict(dist_cfg=dict(backend='gloo'))
# a fixed seed, as in the pretraining and mmpretrain demo runs: the demo's
# summary must be the same every time (mmaction2's / mmdet's own runtime
# draws a new seed per run)
randomness = dict(seed=0, diff_rank_seed=True)
