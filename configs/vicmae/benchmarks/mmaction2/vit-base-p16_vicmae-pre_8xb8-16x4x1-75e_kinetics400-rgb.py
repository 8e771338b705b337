# ViC-MAE ViT-B/16 fine-tuned on Kinetics-400: 16 frames with interval 4,
# horizontal flip, RandAugment, random erasing, mixup/cutmix, repeated
# augmentation (2 samples of each video per batch), 75 epochs; multi-view
# test with 5 clips x 3 crops. Recipe after VideoMAE's K400 fine-tuning.
_base_ = [
    './_base_/adamw-layer-decay_warmup-cosine.py',
    './_base_/vicmae_vit-base-p16_video.py',
    './_base_/kinetics400_video.py',
]

# lr for 8 GPUs x 8 clips (VideoMAE: 1e-3 per 256 clips)
optim_wrapper = dict(optimizer=dict(lr=1e-3 * 64 / 256))

# the shared warm-up, then cosine over the remaining epochs
max_epochs = 75
train_cfg = dict(max_epochs=max_epochs)
param_scheduler = [
    _base_.param_scheduler[0],
    dict(
        _base_.param_scheduler[1],
        T_max=max_epochs - _base_.warmup_epochs,
        end=max_epochs)
]
