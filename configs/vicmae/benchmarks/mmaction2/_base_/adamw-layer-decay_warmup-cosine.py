# Fine-tuning schedule shared by the video benchmarks, on top of
# mmaction2's default runtime: AdamW with layer-wise lr decay, mixed
# precision, 5 linear warm-up epochs then cosine to 1e-6 over 40 epochs,
# validation and checkpoints every 5 epochs. Leaf configs set the lr and,
# for another length, `max_epochs` with a `param_scheduler` rebuilt from
# this one.
_base_ = ['mmaction::_base_/default_runtime.py']

# mmaction2's layer-wise lr decay: block i gets
# decay_rate ** (num_layers - i), patch/position embeddings
# decay_rate ** (num_layers + 1), head and norms the full lr.
# `num_layers` must equal the encoder depth (12 here, for ViT-B). The
# constructor gives no weight decay to 1-D parameters (norms, biases) and
# ignores `norm_decay_mult` / `custom_keys`. Mixed precision on GPUs
# (without a GPU, tools/train.py trains mmaction2 configs in fp32: its
# hard-label loss rejects bf16).
optim_wrapper = dict(
    type='AmpOptimWrapper',
    loss_scale='dynamic',
    optimizer=dict(
        type='AdamW', lr=1.25e-4, betas=(0.9, 0.999), weight_decay=0.05),
    constructor='LearningRateDecayOptimizerConstructor',
    paramwise_cfg=dict(
        decay_rate=0.75, decay_type='layer_wise', num_layers=12))

max_epochs = 40
warmup_epochs = 5
train_cfg = dict(
    type='EpochBasedTrainLoop',
    max_epochs=max_epochs,
    val_begin=1,
    val_interval=5)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')

param_scheduler = [
    dict(
        type='LinearLR',
        start_factor=1e-3,
        by_epoch=True,
        begin=0,
        end=warmup_epochs,
        convert_to_iter_based=True),
    dict(
        type='CosineAnnealingLR',
        T_max=max_epochs - warmup_epochs,
        eta_min=1e-6,
        by_epoch=True,
        begin=warmup_epochs,
        end=max_epochs,
        convert_to_iter_based=True)
]

default_hooks = dict(
    checkpoint=dict(
        interval=5,
        max_keep_ckpts=3,
        save_best='auto',
        backend_args=dict(backend='atomic_local')),
    logger=dict(interval=100))

# `tools/train.py --auto-scale-lr` rescales lr to the actual batch size
auto_scale_lr = dict(enable=False, base_batch_size=64)
