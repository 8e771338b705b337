# The released ViC-MAE pretraining setup with a ViT-L/16 encoder (the same
# script, --model vicmae_vit_large_patch16); see the ViT-B config.
_base_ = ['./vicmae-released_vit-base-p16_8xb128-accum4-801e_in1k-k400.py']
model = dict(
    backbone=dict(arch='large'),
    neck=dict(embed_dim=1024),
    pool_neck=dict(in_channels=1024),
    projector=dict(in_channels=1024))
