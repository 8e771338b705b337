# ViC-MAE pretraining on the larger mix: Kinetics-400/600/700 and Moments in
# Time frame pairs + ImageNet-1k crops, image:video 1:1 (the video share is
# split among the video sources in proportion to their sizes).
# mmaction2 layouts:
#   data/kinetics{400,600,700}/kinetics{400,600,700}_train_list_videos.txt
#   data/kinetics{400,600,700}/videos_train/...
#   data/mit/mit_train_list_videos.txt, data/mit/videos/training/...
#   data/imagenet/train/<class>/*.JPEG
_base_ = ['./k400_in1k_pair.py']

k600_train = dict(
    type='VideoFramePairDataset',
    data_root='data/kinetics600/',
    ann_file='kinetics600_train_list_videos.txt',
    data_prefix=dict(video='videos_train'),
    pipeline={{_base_.frame_pair_pipeline}})
k700_train = dict(
    type='VideoFramePairDataset',
    data_root='data/kinetics700/',
    ann_file='kinetics700_train_list_videos.txt',
    data_prefix=dict(video='videos_train'),
    pipeline={{_base_.frame_pair_pipeline}})
mit_train = dict(
    type='VideoFramePairDataset',
    data_root='data/mit/',
    ann_file='mit_train_list_videos.txt',
    data_prefix=dict(video='videos/training'),
    pipeline={{_base_.frame_pair_pipeline}})

train_dataloader = dict(
    dataset=dict(datasets=[{{_base_.k400_train}}, k600_train, k700_train,
                           mit_train, {{_base_.imagenet_train}}]))
