# ViC-MAE with a ViT-B/16 encoder. As released: mask ratio 0.5, mean
# pooling of patch tokens, projector 4096 -> 128, temperature 0.1,
# loss = 0.97 * reconstruction + 0.03 * contrastive. Our defaults where the
# released code differs (configs/vicmae/released/ has its choices): the
# projector's BatchNorm spans both views and all ranks, and each query has
# one positive, the other view of its own sample.
model = dict(
    type='ViCMAE',
    data_preprocessor=dict(
        type='SelfSupDataPreprocessor',
        mean=[123.675, 116.28, 103.53],
        std=[58.395, 57.12, 57.375],
        to_rgb=True),
    backbone=dict(
        type='ViCMAEViT', arch='base', img_size=224, patch_size=16,
        mask_ratio=0.5),
    # mmpretrain's MAEPretrainDecoder (same weights and keys) with a cheaper
    # forward and optional activation checkpointing
    neck=dict(
        type='ViCMAEPretrainDecoder',
        num_patches=196,
        patch_size=16,
        in_chans=3,
        embed_dim=768,
        decoder_embed_dim=512,
        decoder_depth=8,
        decoder_num_heads=16,
        mlp_ratio=4.),
    head=dict(
        type='MAEPretrainHead',
        norm_pix=True,
        patch_size=16,
        loss=dict(type='PixelReconstructionLoss', criterion='L2')),
    pool_neck=dict(type='TokenPoolingNeck', in_channels=768, pool_type='mean'),
    # Linear-BN-ReLU, Linear-BN-ReLU, Linear (mmpretrain's NonLinearNeck).
    # GlobalBN1d: batch statistics over all ranks, also on CPU/gloo
    # (released: BN1d, per GPU).
    projector=dict(
        type='NonLinearNeck',
        in_channels=768,
        hid_channels=4096,
        out_channels=128,
        num_layers=3,
        with_bias=True,
        with_last_bias=True,
        with_last_bn=False,
        with_avg_pool=False,
        norm_cfg=dict(type='GlobalBN1d')),
    # projector over both views at once (released: once per view)
    projector_per_view=False,
    # 'pair': one positive per query (released: 'local_index')
    contrastive_head=dict(
        type='InfoNCEHead', temperature=0.1, positive_mode='pair'),
    loss_weights=dict(rec=0.97, nce=0.03),
    init_cfg=[
        dict(type='Xavier', layer='Linear', distribution='uniform'),
        dict(type='Constant', layer='LayerNorm', val=1.0, bias=0.0)
    ])
