# loads vicmae_mm; checkpoints weights-only loadable
_base_ = ['./safe_checkpoints.py']

default_scope = 'mmpretrain'

default_hooks = dict(
    runtime_info=dict(type='RuntimeInfoHook'),
    timer=dict(type='IterTimerHook'),
    logger=dict(type='LoggerHook', interval=50),
    param_scheduler=dict(type='ParamSchedulerHook'),
    # atomic writes: a kill mid-save leaves the previous checkpoint intact
    checkpoint=dict(
        type='CheckpointHook',
        interval=1,
        max_keep_ckpts=3,
        backend_args=dict(backend='atomic_local')),
    sampler_seed=dict(type='DistSamplerSeedHook'),
)

# NonFiniteLossHook: stop (or count AMP-skipped steps) on NaN/Inf loss,
# before CheckpointHook can save poisoned weights.
# DataSkipSummaryHook: per-epoch summary of bad files skipped by the data
# pipeline and of frame gaps clamped on short videos.
# IterationSeedHook: masks / drop path drawn from (seed, iter, rank), so a
# resumed run reproduces the uninterrupted run's losses.
custom_hooks = _base_.custom_hooks + [
    dict(type='IterationSeedHook'),
    dict(type='NonFiniteLossHook'),
    dict(type='DataSkipSummaryHook'),
]

env_cfg = dict(
    cudnn_benchmark=False,
    mp_cfg=dict(mp_start_method='fork', opencv_num_threads=0),
    dist_cfg=dict(backend='nccl'),
)

vis_backends = [dict(type='LocalVisBackend')]
visualizer = dict(type='UniversalVisualizer', vis_backends=vis_backends)

log_processor = dict(window_size=10)
log_level = 'INFO'
load_from = None
resume = False
randomness = dict(seed=0, diff_rank_seed=True)
