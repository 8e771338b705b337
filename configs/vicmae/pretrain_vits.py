# ViC-MAE ViT-S/16 (384 wide, 12 deep, 6 heads); decoder 8 x 256.
_base_ = ['./pretrain_vitb.py']
model = dict(
    backbone=dict(arch='small'),
    neck=dict(embed_dim=384, decoder_embed_dim=256, decoder_num_heads=8),
    pool_neck=dict(in_channels=384),
    projector=dict(in_channels=384))
