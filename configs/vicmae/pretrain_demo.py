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

# The released view pipelines (_base_/datasets/pair_view_pipelines.py) with
# the crop output at img_size and the blur sigma scaled by img_size / 224.
view_pipeline1 = [
    dict(t, scale=img_size) if t['type'] == 'RandomResizedCrop' else
    dict(t, magnitude_range=tuple(
        m * img_size / 224 for m in t['magnitude_range']))
    if t['type'] == 'GaussianBlur' else t for t in _base_.view_pipeline1
]
view_pipeline2 = [
    dict(t, scale=img_size) if t['type'] == 'RandomResizedCrop' else t
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

train_dataloader = dict(
    batch_size=64,
    num_workers=1,
    persistent_workers=True,
    pin_memory=False,
    sampler=dict(type='MixedRatioSampler', image_video_ratio=(1, 1)),
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

# Released optimiser; lr for this batch in a short run.
max_iters = 1000
warmup_iters = 100
optim_wrapper = dict(optimizer=dict(lr=1.5e-3))
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
auto_scale_lr = dict(base_batch_size=64)

default_hooks = dict(
    logger=dict(interval=50),
    checkpoint=dict(by_epoch=False, interval=max_iters, max_keep_ckpts=1))
log_processor = dict(by_epoch=False)
env_cfg = dict(dist_cfg=dict(backend='gloo'))
