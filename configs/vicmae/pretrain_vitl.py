# ViC-MAE ViT-L/16, the paper's main model (it reports 87.1% IN1K top-1
# when pretrained with extra data, and 75.9% SSv2).
_base_ = ['./pretrain_vitb.py']
model = dict(
    backbone=dict(arch='large'),
    neck=dict(embed_dim=1024),
    pool_neck=dict(in_channels=1024),
    projector=dict(in_channels=1024))
