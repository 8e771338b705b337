# ViC-MAE ViT-B/16 fine-tuned on Something-Something-v2 (174 classes).
# 16 uniformly sampled frames (UniformSample), no horizontal flip: SSv2
# labels depend on direction ("pushing something from left to right").
# Recipe after VideoMAE's SSv2 fine-tuning: AdamW, layer decay 0.75, drop
# path 0.1, RandAugment, random erasing, mixup 0.8 / cutmix 1.0, label
# smoothing 0.1, 40 epochs; test 2 clips x 3 crops.
_base_ = [
    './_base_/adamw-layer-decay_warmup-cosine.py',
    './_base_/vicmae_vit-base-p16_video.py',
    './_base_/sthv2_video.py',
]

# SSv2's class count in the head and in the base's mixup / cutmix
num_classes = 174
model = dict(
    cls_head=dict(num_classes=num_classes),
    data_preprocessor=dict(
        blending=dict(augments=[
            dict(blend, num_classes=num_classes)
            for blend in _base_.model.data_preprocessor.blending.augments
        ])))

# lr for 8 GPUs x 8 clips (VideoMAE: 5e-4 per 256 clips)
optim_wrapper = dict(optimizer=dict(lr=5e-4 * 64 / 256))
