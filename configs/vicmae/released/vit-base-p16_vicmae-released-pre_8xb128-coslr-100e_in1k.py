# ViC-MAE ViT-B/16 ImageNet-1k fine-tuning as released
# (scripts/finetune_imagenet_vicmae_base.sh, image_finetune.py,
# models_vit.py): our fine-tune recipe with the released classifier input,
# the cls token after the pretrained final norm (`--global_pool` off), so
# no new weight sits in the backbone and nothing is missing on load.
#
# Pretrained weights: --cfg-options model.backbone.init_cfg.checkpoint=...
_base_ = ['../benchmarks/mmpretrain/vit-base-p16_8xb128-coslr-100e_in1k.py']

model = dict(
    backbone=dict(
        out_type='cls_token',
        final_norm=True,
        init_cfg=dict(
            checkpoint='work_dirs/vicmae-released_vit-base-p16_8xb128-'
            'accum4-801e_in1k-k400/epoch_801.pth')))
