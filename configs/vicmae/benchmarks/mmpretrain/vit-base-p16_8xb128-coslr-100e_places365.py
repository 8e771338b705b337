# ViC-MAE ViT-B/16 fine-tuning on Places365-Standard: the ImageNet-1k
# fine-tune recipe (augmentations, optimizer, schedule) with 365 classes.
#
# Data layout (see docs/benchmarks/mmpretrain.md, "Places365"):
#   data/places365/data_256/a/airfield/00000001.jpg ...  (train, 256x256)
#   data/places365/val_256/Places365_val_00000001.jpg ...
#   data/places365/meta/train.txt   places365_train_standard.txt with the
#                                   leading '/' of each path removed
#   data/places365/meta/val.txt     places365_val.txt
#
# Pretrained weights: --cfg-options
#   model.backbone.init_cfg.checkpoint=work_dirs/pretrain_vitb/epoch_800.pth
_base_ = ['./vit-base-p16_8xb128-coslr-100e_in1k.py']

data_root = 'data/places365'
data_preprocessor = dict(num_classes=365)

train_dataloader = dict(
    dataset=dict(
        _delete_=True,
        type='CustomDataset',
        data_root=data_root,
        ann_file='meta/train.txt',
        data_prefix='data_256',
        pipeline={{_base_.train_pipeline}}))
val_dataloader = dict(
    dataset=dict(
        _delete_=True,
        type='CustomDataset',
        data_root=data_root,
        ann_file='meta/val.txt',
        data_prefix='val_256',
        pipeline={{_base_.test_pipeline}}))
test_dataloader = val_dataloader

model = dict(head=dict(num_classes=365))
