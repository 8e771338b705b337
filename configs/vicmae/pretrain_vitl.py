# ViC-MAE ViT-L/16 (the paper's main model: 87.1% IN1K, 75.9% SSv2).
_base_ = ['./pretrain_vitb.py']
model = dict(
    backbone=dict(arch='large'),
    neck=dict(embed_dim=1024),
    pool_neck=dict(in_channels=1024),
    projector=dict(in_channels=1024))
