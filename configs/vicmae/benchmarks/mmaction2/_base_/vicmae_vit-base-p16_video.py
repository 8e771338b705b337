# ViC-MAE ViT-B/16 encoder as an mmaction2 video classifier: the image
# checkpoint is inflated to 2x16x16 tubelets, joint space-time attention,
# mean pooling + fc_norm, then a linear head (mmaction2's TimeSformerHead).
# Leaf configs set `pretrained`, the number of classes and the data.
pretrained = 'work_dirs/pretrain_vitb/epoch_800.pth'
num_frames = 16

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
        num_classes=400,
        in_channels=768,
        label_smooth_eps=0.1,
        average_clips='prob'),
    data_preprocessor=dict(
        type='ActionDataPreprocessor',
        # decord decodes RGB; ImageNet statistics as in pretraining
        mean=[123.675, 116.28, 103.53],
        std=[58.395, 57.12, 57.375],
        format_shape='NCTHW'))

# AdamW with mmaction2's layer-wise lr decay: block i gets
# decay_rate ** (num_layers - i), patch/position embeddings
# decay_rate ** (num_layers + 1), head and norms the full lr.
# `num_layers` must equal the encoder depth. The constructor gives no weight
# decay to 1-D parameters (norms, biases) and ignores `norm_decay_mult` /
# `custom_keys`. Mixed precision as in pretraining (tools/train.py switches
# to bf16 autocast on machines without a GPU).
optim_wrapper = dict(
    type='AmpOptimWrapper',
    loss_scale='dynamic',
    optimizer=dict(
        type='AdamW', lr=1.25e-4, betas=(0.9, 0.999), weight_decay=0.05),
    constructor='LearningRateDecayOptimizerConstructor',
    paramwise_cfg=dict(
        decay_rate=0.75, decay_type='layer_wise', num_layers=12))

# Load vicmae_mm (registers the backbone in mmaction2) and keep saved
# checkpoints weights-only loadable, as everywhere in this toolkit.
custom_imports = dict(imports=['vicmae_mm'], allow_failed_imports=False)
custom_hooks = [dict(type='WeightsOnlyCheckpointHook')]
