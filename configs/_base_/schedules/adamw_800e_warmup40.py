# ViC-MAE pretraining schedule. As released: AdamW (0.9, 0.95), wd 0.05,
# lr 1.5e-4 x batch / 256 at batch 4096, 40 warm-up epochs then half-cycle
# cosine to 0, updated every iteration. Ours: 800 epochs (released: 801),
# warm-up from 1e-4 x lr (released: 0), and no decay on norms, biases and
# position/cls/mask tokens (released: timm's rule, which decays the cls and
# mask tokens); see configs/vicmae/released/.
# fused=True: one multi-tensor kernel instead of a per-parameter loop
# (ViT-B on 2 CPU cores: see docs/benchmarks/pretraining_speed.md).
optim_wrapper = dict(
    type='AmpOptimWrapper',
    loss_scale='dynamic',
    optimizer=dict(
        type='AdamW', lr=1.5e-4 * 4096 / 256, betas=(0.9, 0.95),
        weight_decay=0.05, fused=True),
    paramwise_cfg=dict(
        norm_decay_mult=0.0,
        bias_decay_mult=0.0,
        custom_keys={
            'pos_embed': dict(decay_mult=0.),
            'cls_token': dict(decay_mult=0.),
            'mask_token': dict(decay_mult=0.),
            'gem_p': dict(decay_mult=0.),
            'query': dict(decay_mult=0.),
        }))

param_scheduler = [
    dict(
        type='LinearLR',
        start_factor=1e-4,
        by_epoch=True,
        begin=0,
        end=40,
        convert_to_iter_based=True),
    dict(
        type='CosineAnnealingLR',
        T_max=760,
        by_epoch=True,
        begin=40,
        end=800,
        eta_min=0.0,
        convert_to_iter_based=True)
]

train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=800)

# lr above is for a total batch of 4096; `--auto-scale-lr` rescales it.
auto_scale_lr = dict(base_batch_size=4096)
