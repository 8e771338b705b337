# ViC-MAE ViT-H/14 pretraining with PyTorch FSDP (FULL_SHARD, bf16), through
# mmengine's FlexibleRunner. Same model, data and recipe as ../pretrain_vith.py
# (64 GPUs x 64 pairs); what changes is how memory is spent:
# - the strategy of _base_/fsdp_bf16.py (sharding, one FSDP unit per block,
#   bf16 compute with fp32 gradients and master weights, full checkpoints);
# - bf16 autocast on top (losses, softmax and norms in fp32) and no loss
#   scaling: bf16 has fp32's exponent range;
# - activation checkpointing of every encoder and decoder block (the
#   vicmae_mm knobs, so the recomputation is the same code that trains).
#
# Launch: tools/dist_train.sh configs/vicmae/strategies/pretrain_vith_fsdp.py 8
#     (or tools/slurm_train.sh ...); add --auto-scale-lr for another batch.
# Not usable with KNNMonitorHook / ReconstructionVisHook (they refuse FSDP).
_base_ = ['../pretrain_vith.py', './_base_/fsdp_bf16.py']

model = dict(
    backbone=dict(with_cp=True),
    neck=dict(type='ViCMAEPretrainDecoder', with_cp=True))

# tools/train.py turns it into CPUAmpOptimWrapper (bf16) without GPUs
optim_wrapper = dict(
    type='AmpOptimWrapper',
    dtype='bfloat16',
    loss_scale=dict(_delete_=True, enabled=False))
