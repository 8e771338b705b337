# ViC-MAE ViT-B/16 encoder as an mmaction2 video classifier: the image
# checkpoint is inflated to 2x16x16 tubelets, joint space-time attention,
# mean pooling + fc_norm, then a linear head (mmaction2's TimeSformerHead).
# Mixup / cutmix are sized for Kinetics-400; leaf configs set `pretrained`
# and, for other data, the number of classes.
# The base loads vicmae_mm (registers the backbone in mmaction2) and keeps
# saved checkpoints weights-only loadable, as everywhere in this toolkit.
_base_ = ['../../../../_base_/safe_checkpoints.py']

pretrained = 'work_dirs/pretrain_vitb/epoch_800.pth'
num_frames = 16
num_classes = 400

model = dict(
    type='Recognizer3D',
    backbone=dict(
        type='InflatedVisionTransformer',
        arch='base',
        img_size=224,
        patch_size=16,
        num_frames=num_frames,
        tubelet_size=2,
        mode='joint',
        inflate_init='average',
        with_cls_token=False,
        final_norm=True,
        out_type='avg_featmap',
        drop_path_rate=0.1,
        with_cp=False,
        init_cfg=dict(
            type='Pretrained', checkpoint=pretrained, prefix='backbone.')),
    cls_head=dict(
        type='TimeSformerHead',
        num_classes=num_classes,
        in_channels=768,
        label_smooth_eps=0.1,
        average_clips='prob'),
    data_preprocessor=dict(
        type='ActionDataPreprocessor',
        # decord decodes RGB; ImageNet statistics as in pretraining
        mean=[123.675, 116.28, 103.53],
        std=[58.395, 57.12, 57.375],
        format_shape='NCTHW',
        blending=dict(
            type='RandomBatchAugment',
            augments=[
                dict(type='MixupBlending', alpha=0.8, num_classes=num_classes),
                dict(type='CutmixBlending', alpha=1.0, num_classes=num_classes)
            ])))
