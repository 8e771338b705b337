# ViC-MAE ViT-H/14 pretraining with DeepSpeed ZeRO, through mmengine's
# FlexibleRunner (GPUs; `pip install deepspeed`). Same model, data and
# recipe as ../pretrain_vith.py (64 GPUs x 64 pairs):
# - ZeRO stage 2: AdamW state and gradients sharded over the ranks, bf16
#   compute with fp32 master weights (ViT-H's 632M parameters + decoder fit
#   replicated in bf16; use stage 3 to shard them too, see below);
# - activation checkpointing of every encoder and decoder block through the
#   vicmae_mm knobs.
# DeepSpeed saves a checkpoint directory; `python <dir>/zero_to_fp32.py
# <dir> model.pth` gives the fp32 state_dict (keys `backbone.*`, `neck.*`,
# `projector.*` as in every vicmae_mm checkpoint).
#
# Launch: tools/dist_train.sh configs/vicmae/strategies/pretrain_vith_deepspeed.py 8
_base_ = ['../pretrain_vith.py']

model = dict(
    backbone=dict(checkpoint_activations=True),
    neck=dict(type='ViCMAEPretrainDecoder', checkpoint_activations=True))

runner_type = 'FlexibleRunner'
strategy = dict(
    type='DeepSpeedStrategy',
    bf16=dict(enabled=True),
    zero_optimization=dict(
        stage=2,
        allgather_partitions=True,
        allgather_bucket_size=int(2e8),
        reduce_scatter=True,
        reduce_bucket_size='auto',
        overlap_comm=True,
        contiguous_gradients=True),
    # keep equal to train_dataloader.batch_size (pairs per GPU)
    train_micro_batch_size_per_gpu=64,
    gradient_accumulation_steps=1)
# For ZeRO-3: zero_optimization=dict(stage=3, overlap_comm=True,
#     stage3_gather_16bit_weights_on_model_save=True)

optim_wrapper = dict(
    _delete_=True,
    type='DeepSpeedOptimWrapper',
    optimizer={{_base_.optim_wrapper.optimizer}},
    paramwise_cfg={{_base_.optim_wrapper.paramwise_cfg}})
