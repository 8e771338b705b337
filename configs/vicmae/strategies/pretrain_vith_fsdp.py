# ViC-MAE ViT-H/14 pretraining with PyTorch FSDP, through mmengine's
# FlexibleRunner (GPUs, NCCL). Same model, data and recipe as
# ../pretrain_vith.py (64 GPUs x 64 pairs); what changes is how memory is
# spent:
# - parameters, gradients and AdamW state are sharded over the ranks
#   (FULL_SHARD); every transformer block (the 32 encoder blocks of 31M
#   parameters and the 8 decoder blocks of 3.2M) is its own FSDP unit, so
#   only one block is gathered at a time;
# - bf16 autocast (AmpOptimWrapper; the sharded grad scaler is a no-op for
#   bf16) with fp32 master weights;
# - activation checkpointing of every encoder and decoder block (the
#   vicmae_mm knobs, so the recomputation is the same code that trains).
# Checkpoints are gathered into one full state_dict on rank 0
# (state_dict_cfg='full'), so they keep the one-checkpoint contract: the
# `backbone.` keys load into mmpretrain / mmaction2 / mmdet unchanged.
#
# Launch: tools/dist_train.sh configs/vicmae/strategies/pretrain_vith_fsdp.py 8
#     (or tools/slurm_train.sh ...); add --auto-scale-lr for another batch.
_base_ = ['../pretrain_vith.py']

model = dict(
    backbone=dict(checkpoint_activations=True),
    neck=dict(type='ViCMAEPretrainDecoder', checkpoint_activations=True))

runner_type = 'FlexibleRunner'
strategy = dict(
    type='FSDPStrategy',
    model_wrapper=dict(
        sharding_strategy='FULL_SHARD',
        # registered by vicmae_mm (models/backbones/fast_vit_block.py)
        auto_wrap_policy='vit_block_wrap_policy',
        # param-wise weight decay (no decay on norms, biases, tokens)
        # needs the original parameters
        use_orig_params=True),
    state_dict_cfg='full')

optim_wrapper = dict(type='AmpOptimWrapper', dtype='bfloat16', use_fsdp=True)
