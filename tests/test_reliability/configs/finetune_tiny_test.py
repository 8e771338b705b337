# The real mmpretrain fine-tuning benchmark config, shrunk to the tiny
# encoder of tests/configs/pretrain_tiny.py, for `tools/test.py` runs on a
# class-per-folder PNG set. Tests set the data:
#   --cfg-options test_dataloader.dataset.data_root=FOLDER
_base_ = [
    '../../../configs/vicmae/benchmarks/mmpretrain/'
    'vit-base-p16_8xb128-coslr-100e_in1k.py'
]
num_classes = 2
model = dict(
    backbone=dict(
        arch=dict(
            _delete_=True,
            embed_dims=32,
            num_layers=2,
            num_heads=2,
            feedforward_channels=64),
        img_size=32,
        patch_size=8,
        # weights come from the checkpoint given to tools/test.py
        init_cfg=None),
    head=dict(in_channels=32, num_classes=num_classes))
data_preprocessor = dict(num_classes=num_classes)
test_dataloader = dict(
    batch_size=2,
    num_workers=0,
    persistent_workers=False,
    dataset=dict(
        _delete_=True,
        type='CustomDataset',
        data_root='',
        pipeline=[
            dict(type='LoadImageFromFile'),
            dict(type='ResizeEdge', scale=36, edge='short'),
            dict(type='CenterCrop', crop_size=32),
            dict(type='PackInputs'),
        ]))
test_evaluator = dict(type='Accuracy', topk=(1, ))
env_cfg = dict(dist_cfg=dict(backend='gloo'))
