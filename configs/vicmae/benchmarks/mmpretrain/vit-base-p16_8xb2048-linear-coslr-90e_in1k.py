# ViC-MAE ViT-B/16 linear probing on ImageNet-1k (the released code has no
# linear-probe script), mmpretrain's MAE linear-probe recipe with the
# mean-pooled feature instead of MAE's cls token: frozen backbone,
# BatchNorm (no affine) before the linear head, LARS lr 6.4
# (0.1 x 16384 / 256), 90 epochs (10 warm-up), total batch 16384
# (8 GPUs x 2048).
#
# Pretrained weights: --cfg-options
#   model.backbone.init_cfg.checkpoint=work_dirs/pretrain_vitb/epoch_800.pth
# vicmae_mm: safe (weights-only) checkpoint loading and saving.
_base_ = [
    'mmpretrain::mae/benchmarks/vit-base-p16_8xb2048-linear-coslr-90e_in1k.py',
    '../../../_base_/safe_checkpoints.py'
]

model = dict(
    backbone=dict(
        # Feature = mean of the patch tokens after the pretrained final
        # norm, exactly the vector ViC-MAE's projector saw in pretraining:
        # the patch-token map ('featmap') is averaged by GlobalAveragePooling.
        # No new weights in the backbone, so nothing is missing on load, and
        # frozen_stages = depth freezes every backbone weight (final norm
        # included). cls-token variant: out_type='cls_token' and
        # neck=dict(type='ClsBatchNormNeck', input_features=768).
        out_type='featmap',
        final_norm=True,
        frozen_stages=12,
        init_cfg=dict(
            type='Pretrained',
            checkpoint='work_dirs/pretrain_vitb/epoch_800.pth',
            prefix='backbone.')),
    neck=[
        dict(type='GlobalAveragePooling'),
        dict(type='ClsBatchNormNeck', input_features=768),
    ])

default_hooks = dict(
    checkpoint=dict(backend_args=dict(backend='atomic_local')))
