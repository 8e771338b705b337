# ViC-MAE's released view augmentations (both views: RandomResizedCrop 224,
# horizontal flip, ColorJitter(0.4, 0.4, 0.2, 0.1) with p 0.8, grayscale
# p 0.2; view 1: Gaussian blur; view 2: solarize p 0.2), written with
# mmpretrain/mmcv transforms. Inputs are BGR uint8 (images from
# LoadImageFromFile, frames from DecodeFramePair), hence the BGR grayscale
# weights; SelfSupDataPreprocessor(to_rgb=True) converts the batch to RGB.
# Shared by the *_pair.py dataset configs.
# (a `__` name stays out of the resolved config)
__common_view_transforms = [
    dict(
        type='RandomResizedCrop',
        scale=224,
        interpolation='bicubic',
        backend='pillow'),
    dict(type='RandomFlip', prob=0.5),
    dict(
        type='RandomApply',
        transforms=[
            dict(
                type='ColorJitter',
                brightness=0.4,
                contrast=0.4,
                saturation=0.2,
                hue=0.1)
        ],
        prob=0.8),
    dict(
        type='RandomGrayscale',
        prob=0.2,
        keep_channels=True,
        channel_weights=(0.114, 0.587, 0.2989)),
]
view_pipeline1 = __common_view_transforms + [
    dict(
        type='GaussianBlur',
        magnitude_range=(0.1, 2.0),
        magnitude_std='inf',
        prob=1.0),
]
view_pipeline2 = __common_view_transforms + [
    dict(type='Solarize', thr=128, prob=0.2),
]

# meta kept with each sample (frame indices/times for videos; gap_clamped
# feeds DataSkipSummaryHook)
pair_meta_keys = ('sample_idx', 'img_path', 'filename', 'frame_inds',
                  'frame_times', 'frame_gap', 'gap_clamped')

# Frame pair: gap in seconds ("about a second apart"), via the container fps.
frame_pair_pipeline = [
    dict(type='OpenVideo', num_threads=1),
    dict(
        type='SampleFramePair',
        gap_range=(1.0, 1.0),
        gap_unit='second',
        short_video='clamp'),
    dict(type='DecodeFramePair', channel_order='bgr'),
    dict(type='PairedMultiView', transforms=[view_pipeline1, view_pipeline2]),
    dict(type='PackInputs', meta_keys=pair_meta_keys),
]
image_pair_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='PairedMultiView', transforms=[view_pipeline1, view_pipeline2]),
    dict(type='PackInputs', meta_keys=pair_meta_keys),
]
