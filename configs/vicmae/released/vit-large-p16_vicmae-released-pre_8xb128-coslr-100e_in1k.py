# ViC-MAE ViT-L/16 ImageNet-1k fine-tuning as released
# (scripts/finetune_imagenet_vicmae_large.sh: the ViT-B recipe, cls token
# after the pretrained final norm); see the ViT-B config.
_base_ = ['./vit-base-p16_vicmae-released-pre_8xb128-coslr-100e_in1k.py']

model = dict(
    backbone=dict(
        arch='large',
        init_cfg=dict(
            checkpoint='work_dirs/vicmae-released_vit-large-p16_8xb128-'
            'accum4-801e_in1k-k400/epoch_801.pth')),
    head=dict(in_channels=1024))
