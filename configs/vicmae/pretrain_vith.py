# ViC-MAE ViT-H/14 at 224 px (16 x 16 patches). For memory, see the
# FSDP config in configs/vicmae/strategies/.
_base_ = ['./pretrain_vitb.py']
model = dict(
    backbone=dict(arch='huge', patch_size=14),
    neck=dict(num_patches=256, patch_size=14, embed_dim=1280),
    head=dict(patch_size=14),
    pool_neck=dict(in_channels=1280),
    projector=dict(in_channels=1280))
