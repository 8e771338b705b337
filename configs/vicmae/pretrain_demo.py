# ViC-MAE sized for a laptop CPU: the pretraining of `make demo`
# (tools/demo/run_demo.py, docs/get_started.md).
#
# The released recipe (pretrain_vitb.py: model, losses and loss weights,
# optimiser, warm-up + cosine schedule, view augmentations, the mixed
# image/video data path) with only sizes, data and schedule changed:
#   - encoder: demo/_base_/demo_sizes.py (shared with the downstream demo
#     configs); decoder 64 x 2; projector 256 -> 64;
#   - data: the embedded moving-digits videos (frame pairs 1 s apart) and
#     digit images that tools/data/demo/generate_demo_data.py writes into
#     data/demo/ (nothing is downloaded), mixed 1:1 in every batch;
#   - view augmentations: the released ones at the demo's input size;
#   - 64 pairs per batch, a fixed number of iterations (CPU minutes).
# Generate the data, then train:
#   python tools/data/demo/generate_demo_data.py --out data/demo --plain
#   python tools/train.py configs/vicmae/pretrain_demo.py
_base_ = ['./pretrain_vitb.py', './demo/_base_/demo_sizes.py']

arch = _base_.demo_arch
img_size = _base_.demo_img_size
patch_size = _base_.demo_patch_size
data_root = _base_.demo_data_root

model = dict(
    backbone=dict(
        arch=dict(_delete_=True, **arch),
        img_size=img_size,
        patch_size=patch_size),
    neck=dict(
        num_patches=(img_size // patch_size)**2,
        patch_size=patch_size,
        embed_dim=arch['embed_dims'],
        decoder_embed_dim=64,
        decoder_depth=2,
        decoder_num_heads=4),
    head=dict(patch_size=patch_size),
    pool_neck=dict(in_channels=arch['embed_dims']),
    projector=dict(
        in_channels=arch['embed_dims'], hid_channels=256, out_channels=64))

# The released view pipelines (_base_/datasets/pair_view_pipelines.py) at
# the demo's size: crops output img_size px and keep at least 35% of the
# image (the released 8% of a 224 px photo is an 18 px crop; 8% of a 32 px
# digit canvas would be a 9 px piece of one stroke), blur sigma scaled by
# img_size / 224.
crop = dict(scale=img_size, crop_ratio_range=(0.35, 1.0))
view_pipeline1 = [
    dict(t, **crop) if t['type'] == 'RandomResizedCrop' else
    dict(t, magnitude_range=tuple(
        m * img_size / 224 for m in t['magnitude_range']))
    if t['type'] == 'GaussianBlur' else t for t in _base_.view_pipeline1
]
view_pipeline2 = [
    dict(t, **crop) if t['type'] == 'RandomResizedCrop' else t
    for t in _base_.view_pipeline2
]
frame_pair_pipeline = [
    dict(t, transforms=[view_pipeline1, view_pipeline2])
    if t['type'] == 'PairedMultiView' else t
    for t in _base_.frame_pair_pipeline
]
image_pair_pipeline = [
    dict(t, transforms=[view_pipeline1, view_pipeline2])
    if t['type'] == 'PairedMultiView' else t
    for t in _base_.image_pair_pipeline
]

batch_size = 64
max_iters = 500
warmup_iters = 50
train_dataloader = dict(
    batch_size=batch_size,
    num_workers=2,
    persistent_workers=True,
    pin_memory=False,
    # one sampler epoch = the whole run (no dataloader restarts)
    sampler=dict(
        type='MixedRatioSampler',
        image_video_ratio=(1, 1),
        samples_per_epoch=max_iters * batch_size),
    dataset=dict(
        type='MixedPairDataset',
        datasets=[
            # bouncing clips + the train split's direction clips (their
            # labels are not used here)
            dict(
                type='VideoFramePairDataset',
                data_root=data_root + 'videos',
                ann_file='pretrain_list.txt',
                data_prefix=dict(video=''),
                pipeline=frame_pair_pipeline),
            # the train split's digit images, without their labels
            dict(
                type='CustomDataset',
                data_root=data_root + 'images',
                data_prefix='train',
                with_label=False,
                pipeline=image_pair_pipeline),
        ],
        max_retries=10))

# Released optimiser (AdamW, no decay on norms / biases / tokens) in fp32
# (a CPU-sized model gains nothing from bf16 autocast); lr for this batch in
# a short run.
optim_wrapper = dict(
    _delete_=True,
    type='OptimWrapper',
    optimizer=dict(_base_.optim_wrapper.optimizer, lr=1.5e-3),
    paramwise_cfg=_base_.optim_wrapper.paramwise_cfg)
param_scheduler = [
    dict(
        type='LinearLR',
        start_factor=1e-4,
        by_epoch=False,
        begin=0,
        end=warmup_iters),
    dict(
        type='CosineAnnealingLR',
        T_max=max_iters - warmup_iters,
        by_epoch=False,
        begin=warmup_iters,
        end=max_iters,
        eta_min=0.0)
]
train_cfg = dict(
    _delete_=True, type='IterBasedTrainLoop', max_iters=max_iters)
auto_scale_lr = dict(base_batch_size=batch_size)

# What the demo shows while it trains: reconstruction grids (original /
# masked / reconstruction, images and video frame pairs) written by the
# visualizer, and kNN top-1 of the pooled features on the labelled digit
# images (train split = memory bank, val split = queries).
knn_loader = dict(
    batch_size=256,
    num_workers=0,
    sampler=dict(type='DefaultSampler', shuffle=False),
    collate_fn=dict(type='default_collate'),
    dataset=dict(
        type='CustomDataset',
        data_root=data_root + 'images',
        pipeline=[dict(type='LoadImageFromFile'),
                  dict(type='PackInputs')]))
custom_hooks = _base_.custom_hooks + [
    dict(type='ReconstructionVisHook', interval=250, num_samples=4),
    dict(
        type='KNNMonitorHook',
        interval=250,
        train_dataloader=dict(
            knn_loader, dataset=dict(knn_loader['dataset'],
                                     ann_file='train.txt')),
        val_dataloader=dict(
            knn_loader, dataset=dict(knn_loader['dataset'],
                                     ann_file='val.txt'))),
]

default_hooks = dict(
    logger=dict(interval=50),
    checkpoint=dict(by_epoch=False, interval=max_iters, max_keep_ckpts=1))
log_processor = dict(by_epoch=False)
env_cfg = dict(dist_cfg=dict(backend='gloo'))
