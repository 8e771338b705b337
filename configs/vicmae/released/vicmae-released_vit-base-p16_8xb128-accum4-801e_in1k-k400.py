# The released ViC-MAE pretraining setup with a ViT-B/16 encoder
# (scripts/pretrain_in1k_k400.sh, pretrain.py, engine_pretrain.py and
# models_vicmae.py of github.com/jeffhernandez1995/ViC-MAE), reproduced
# where the code shows it.
# Only what differs from our default (../pretrain_vitb.py) is set here:
#   batch         8 GPUs x 128 pairs, 4 accumulation steps: InfoNCE over the
#                 1024 pairs of one step, the optimizer over 4096
#   projector BN  plain BatchNorm1d per GPU, the projector run once per view
#   positives     sample i of every GPU is a positive of sample i
#   weight decay  timm's rule: none on 1-D tensors and biases, so cls_token
#                 and mask_token decay
#   schedule      801 epochs: warm-up from ~0 over 40, cosine to 0 over 761
#   precision     fp16 autocast with dynamic loss scaling on every GPU
#   data          drop_last=True
# What still differs from the released code, and why: docs/configs.md.
_base_ = ['../pretrain_vitb.py']

model = dict(
    projector=dict(norm_cfg=dict(type='BN1d')),
    projector_per_view=True,
    contrastive_head=dict(positive_mode='local_index'))

train_dataloader = dict(batch_size=128, drop_last=True)

optim_wrapper = dict(
    dtype='float16',  # torch.cuda.amp.autocast + GradScaler, on every GPU
    accumulative_counts=4,
    paramwise_cfg=dict(
        _delete_=True,
        norm_decay_mult=0.0,
        bias_decay_mult=0.0,
        flat_decay_mult=0.0))

# released: warm-up from 0 (mmengine's chained LinearLR needs a start > 0),
# 801 epochs in all
param_scheduler = [
    dict(_base_.param_scheduler[0], start_factor=1e-8),
    dict(_base_.param_scheduler[1], T_max=761, end=801),
]
train_cfg = dict(max_epochs=801)
# lr = 1.5e-4 x 4096 / 256 for 8 x 128 x 4 samples per optimizer step
auto_scale_lr = dict(base_batch_size=4096)
