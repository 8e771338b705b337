# Loader settings shared by the video benchmarks (8 GPUs x 8 clips): 8
# clips per GPU for training and validation, one multi-view clip for
# testing, 8 workers each; top-1/top-5 accuracy. The dataset files
# (kinetics400_video.py, sthv2_video.py) add the datasets and pipelines.
train_dataloader = dict(
    batch_size=8,
    num_workers=8,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=True))
val_dataloader = dict(
    batch_size=8,
    num_workers=8,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(test_mode=True))
test_dataloader = dict(val_dataloader, batch_size=1)

val_evaluator = dict(type='AccMetric')
test_evaluator = val_evaluator
