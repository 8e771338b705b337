# ViC-MAE pretraining on Something-Something V2 videos only (labels in the
# list are ignored). mmaction2 layout:
#   data/sthv2/sthv2_train_list_videos.txt, data/sthv2/videos/*.webm
_base_ = ['./pair_view_pipelines.py']

ssv2_train = dict(
    type='VideoFramePairDataset',
    data_root='data/sthv2/',
    ann_file='sthv2_train_list_videos.txt',
    data_prefix=dict(video='videos'),
    pipeline={{_base_.frame_pair_pipeline}})

train_dataloader = dict(
    batch_size=64,
    num_workers=10,
    persistent_workers=True,
    pin_memory=True,
    sampler=dict(type='MixedRatioSampler', image_video_ratio=None),
    collate_fn=dict(type='default_collate'),
    dataset=dict(
        type='MixedPairDataset', datasets=[ssv2_train], max_retries=10))
