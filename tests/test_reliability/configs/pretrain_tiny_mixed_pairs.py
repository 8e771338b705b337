# Tiny ViC-MAE pretraining on frame pairs from videos + two-view images, for
# the reliability tests: the real model / schedule / runtime bases (through
# tests/configs/pretrain_tiny.py) with the real data path (MixedPairDataset
# + MixedRatioSampler, OpenVideo -> SampleFramePair -> DecodeFramePair).
# Tests point both sources at a folder holding `videos.txt` + `videos/` and
# `images.txt` + `images/`:
#   --cfg-options train_dataloader.dataset.datasets.0.data_root=ROOT \
#                 train_dataloader.dataset.datasets.1.data_root=ROOT
_base_ = ['../../configs/pretrain_tiny.py']

view_pipeline = [
    dict(type='RandomResizedCrop', scale=32, crop_ratio_range=(0.5, 1.0)),
    dict(type='RandomFlip', prob=0.5),
]
meta_keys = ('sample_idx', 'img_path', 'filename', 'frame_inds', 'gap_clamped')
train_dataloader = dict(
    _delete_=True,
    batch_size=4,
    num_workers=0,
    sampler=dict(type='MixedRatioSampler', image_video_ratio=(1, 1)),
    collate_fn=dict(type='default_collate'),
    dataset=dict(
        type='MixedPairDataset',
        datasets=[
            dict(
                type='VideoFramePairDataset',
                data_root='',
                ann_file='videos.txt',
                data_prefix=dict(video='videos'),
                pipeline=[
                    dict(type='OpenVideo'),
                    # a random gap: frame-pair sampling is part of what
                    # resume must reproduce
                    dict(type='SampleFramePair', gap_range=(0.5, 1.0)),
                    dict(type='DecodeFramePair'),
                    dict(
                        type='PairedMultiView',
                        transforms=[view_pipeline, view_pipeline]),
                    dict(type='PackInputs', meta_keys=meta_keys),
                ]),
            dict(
                type='CustomDataset',
                data_root='',
                ann_file='images.txt',
                data_prefix='images',
                with_label=False,
                pipeline=[
                    dict(type='LoadImageFromFile'),
                    dict(
                        type='PairedMultiView',
                        transforms=[view_pipeline, view_pipeline]),
                    dict(type='PackInputs', meta_keys=meta_keys),
                ]),
        ]))

train_cfg = dict(type='IterBasedTrainLoop', max_iters=8)
default_hooks = dict(
    checkpoint=dict(interval=2, by_epoch=False, max_keep_ckpts=-1),
    logger=dict(interval=1))
# one value per iteration in scalars.json (no smoothing window)
log_processor = dict(window_size=1)
randomness = dict(seed=2024, deterministic=True)
