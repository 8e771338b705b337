# Copyright (c) vicmae_mm contributors. All rights reserved.
"""Two real gloo processes: the sampler's seed is shared, each rank keeps
the image:video ratio, and the skip summary gathers both ranks' files."""
from types import SimpleNamespace

from dist_helpers import run_distributed
from frame_pair_data import write_list


def _rank_fn(rank, world_size, video_list, image_list):
    from mmengine.logging import MessageHub
    from mmengine.registry import init_default_scope
    from mmpretrain.structures import DataSample

    import vicmae_mm.engine.hooks.data_skip_summary_hook as hook_module
    from vicmae_mm.datasets import (MixedPairDataset, MixedRatioSampler,
                                    VideoFramePairDataset)
    from vicmae_mm.engine.hooks import DataSkipSummaryHook
    init_default_scope('mmpretrain')
    dataset = MixedPairDataset(datasets=[
        VideoFramePairDataset(ann_file=video_list),
        dict(type='CustomDataset', ann_file=image_list, with_label=True),
    ])
    sampler = MixedRatioSampler(dataset, image_video_ratio=(1, 3))  # seed
    sampler.set_epoch(1)  # synced like DefaultSampler's
    indices = [t % len(dataset) for t in sampler]
    kinds = [dataset.kinds[dataset.locate(i)[0]] for i in indices]

    logged = []
    hook_module.print_log = lambda msg, **kwargs: logged.append(msg)
    hook = DataSkipSummaryHook()
    runner = SimpleNamespace(
        message_hub=MessageHub.get_instance(f'pair_sampling_{rank}'),
        iter=0,
        epoch=0)
    sample = DataSample(
        metainfo=dict(
            sample_kind='video',
            skipped_samples=[
                dict(path=f'bad_rank{rank}.mp4', reason='corrupt')
            ]))
    hook.after_train_iter(runner, 0, dict(data_samples=[sample]))
    hook.after_train_epoch(runner)
    return dict(seed=sampler.seed, indices=indices, kinds=kinds, log=logged)


def test_two_ranks_share_seed_keep_ratio_and_gather_skips(tmp_path):
    videos = write_list(
        str(tmp_path / 'videos.txt'), [f'v{i}.mp4' for i in range(600)])
    images = write_list(
        str(tmp_path / 'images.txt'), [f'i{i}.png 0' for i in range(200)])
    results = run_distributed(_rank_fn, 2, videos, images)
    assert results[0]['seed'] == results[1]['seed']
    for r in results:
        assert len(r['indices']) == 400
        ratio = r['kinds'].count('image') / len(r['kinds'])
        assert abs(ratio - 0.25) <= 0.02
    # 1:3 over 800 samples is exactly the dataset: ranks split it
    assert sorted(results[0]['indices'] + results[1]['indices']) == list(
        range(800))
    assert results[1]['log'] == []
    summary = results[0]['log'][0]
    assert '2 samples (2 videos); 2 bad files skipped' in summary
    assert 'bad_rank0.mp4: corrupt' in summary
    assert 'bad_rank1.mp4: corrupt' in summary
