# ViC-MAE ViT-B/16 pretraining on Kinetics-400 frame pairs + ImageNet-1k
# crops, released recipe: total batch 4096 (64 GPUs x 64), 800 epochs.
_base_ = [
    '../_base_/models/vicmae_vit-base-p16.py',
    '../_base_/datasets/k400_in1k_pair.py',
    '../_base_/schedules/adamw_800e_warmup40.py',
    '../_base_/default_runtime.py',
]
