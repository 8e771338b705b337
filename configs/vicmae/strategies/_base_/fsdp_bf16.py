# PyTorch FSDP with bf16 through mmengine's FlexibleRunner: the strategy
# part of a pretraining config. Inherit it next to a full config and add the
# optim_wrapper line of ../pretrain_vith_fsdp.py.
# - FULL_SHARD: parameters, gradients and AdamW state sharded over the ranks;
#   every transformer block (encoder and MAE decoder) is one FSDP unit
#   (vit_block_wrap_policy, registered by vicmae_mm), so one block is
#   gathered at a time.
# - bf16 parameters for compute and all-gathers; gradients reduced and kept
#   (with the master weights and buffers such as BatchNorm statistics) in
#   fp32. FSDP wraps BatchNorm layers in fp32 by itself.
# - use_orig_params: the param-wise weight decay (no decay on norms, biases,
#   tokens) needs the original parameters.
# - sync_module_states: every rank starts from rank 0's weights (on GPUs;
#   without CUDA ViCMAEFSDPStrategy relies on mmengine's broadcast after
#   init_weights, which runs in both cases).
# - state_dict_cfg='full': checkpoints are one full state_dict gathered on
#   rank 0, with the `backbone.` keys of every vicmae_mm checkpoint, so they
#   load into mmpretrain / mmaction2 / mmdet unchanged and `--resume` finds
#   them.
runner_type = 'FlexibleRunner'
strategy = dict(
    type='ViCMAEFSDPStrategy',
    model_wrapper=dict(
        sharding_strategy='FULL_SHARD',
        auto_wrap_policy='vit_block_wrap_policy',
        use_orig_params=True,
        mixed_precision=dict(
            param_dtype='bfloat16',
            reduce_dtype='float32',
            buffer_dtype='float32'),
        sync_module_states=True),
    state_dict_cfg='full')
