# ViC-MAE ViT-B/16 pretraining on Kinetics-400 frame pairs + ImageNet-1k
# crops, our default setup: total batch 4096 (64 GPUs x 64, InfoNCE over all
# 4096 pairs), 800 epochs. The released setup (8 GPUs x 128, 4 accumulation
# steps, ...) is configs/vicmae/released/; docs/configs.md compares them.
_base_ = [
    '../_base_/models/vicmae_vit-base-p16.py',
    '../_base_/datasets/k400_in1k_pair.py',
    '../_base_/schedules/adamw_800e_warmup40.py',
    '../_base_/default_runtime.py',
]
