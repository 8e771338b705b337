# ViC-MAE pretraining data: Kinetics-400 frame pairs + ImageNet-1k two-view
# crops, mixed 1:1 by MixedRatioSampler, 224 px, 64 pairs per GPU: on 64
# GPUs a total batch of 4096 for InfoNCE and the optimizer alike. (The
# released run: 8 GPUs x 128 with 4 accumulation steps, i.e. InfoNCE over
# 1024 pairs and the optimizer over 4096; configs/vicmae/released/.)
#   data/kinetics400/kinetics400_train_list_videos.txt  ("path label" lines)
#   data/kinetics400/videos_train/...                   (mmaction2 layout)
#   data/imagenet/train/<class>/*.JPEG                  (mmpretrain layout)
# Nothing here touches the files: the Runner builds the datasets lazily.
_base_ = ['./pair_view_pipelines.py']

k400_root = 'data/kinetics400/'
imagenet_root = 'data/imagenet/'

k400_train = dict(
    type='VideoFramePairDataset',
    data_root=k400_root,
    ann_file='kinetics400_train_list_videos.txt',
    data_prefix=dict(video='videos_train'),
    pipeline={{_base_.frame_pair_pipeline}})
imagenet_train = dict(
    type='ImageNet',
    data_root=imagenet_root,
    split='train',
    pipeline={{_base_.image_pair_pipeline}})

train_dataloader = dict(
    batch_size=64,
    num_workers=10,
    persistent_workers=True,
    pin_memory=True,
    sampler=dict(type='MixedRatioSampler', image_video_ratio=(1, 1)),
    collate_fn=dict(type='default_collate'),
    dataset=dict(
        type='MixedPairDataset',
        datasets=[k400_train, imagenet_train],
        max_retries=10))
