# Copyright (c) vicmae_mm contributors. All rights reserved.
"""kNN top-1 of the pretrained features, measured while pretraining."""
from itertools import chain, zip_longest
from typing import Optional, Tuple

import torch
import torch.nn.functional as F
from mmengine.dist import (all_gather_object, broadcast_object_list,
                           is_main_process)
from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper
from mmengine.registry import HOOKS

from vicmae_mm.engine.fsdp_strategy import refuse_sharded_model
from vicmae_mm.utils.rng import preserved_rng_state

_FIELDS = ('train_dataloader', 'val_dataloader')


def weighted_knn_predict(train_feats: torch.Tensor,
                         train_labels: torch.Tensor,
                         query_feats: torch.Tensor,
                         num_classes: int,
                         k: int = 20,
                         temperature: float = 0.07,
                         chunk_size: int = 1024) -> torch.Tensor:
    """Labels of ``(M, C)`` queries by a kNN vote over ``(N, C)`` features.

    The ``k`` most cosine-similar training samples vote ``exp(sim / T)``
    (InstDisc, DINO), for ``chunk_size`` queries at a time.
    """
    if not 1 <= k <= train_feats.shape[0]:
        raise ValueError(f'k={k} must be in [1, {train_feats.shape[0]}] '
                         '(the number of training samples)')
    train_feats = F.normalize(train_feats.float(), dim=1)
    query_feats = F.normalize(query_feats.float(), dim=1)
    preds = []
    for start in range(0, query_feats.shape[0], chunk_size):
        sims = query_feats[start:start + chunk_size] @ train_feats.T
        top_sims, top_idx = sims.topk(k, dim=1)
        weights = (top_sims / temperature).exp()
        votes = torch.zeros(
            sims.shape[0], num_classes,
            device=sims.device).scatter_add_(1, train_labels[top_idx], weights)
        preds.append(votes.argmax(dim=1))
    return torch.cat(preds)


def _pooled(feats) -> torch.Tensor:
    if isinstance(feats, (tuple, list)):
        feats = feats[-1]
    if feats.dim() == 4:  # (B, C, H, W) feature map
        feats = feats.mean(dim=(2, 3))
    elif feats.dim() == 3:  # (B, L, C) tokens
        feats = feats.mean(dim=1)
    return feats.flatten(1)


@HOOKS.register_module()
class KNNMonitorHook(Hook):
    """Report kNN top-1 accuracy of the model's features every N iterations.

    ``extract_feat`` features of ``train_dataloader`` classify those of
    ``val_dataloader`` (:func:`weighted_knn_predict`); the accuracy (%) goes
    to the message hub as ``train/<name>``. The global RNG states are
    restored, so the monitor does not change the training run.

    Args:
        train_dataloader (dict): Labelled single-view memory bank.
        val_dataloader (dict): Labelled single-view query set.
        interval (int): Measure every this many iterations.
        k (int): Neighbours (capped, with a warning, at the bank size).
        temperature (float): Vote temperature.
        name (str): Scalar name.
        eval_at_end (bool): Also measure after the last iteration.
    """

    priority = 'NORMAL'

    def __init__(self,
                 train_dataloader: dict,
                 val_dataloader: dict,
                 interval: int = 100,
                 k: int = 20,
                 temperature: float = 0.07,
                 name: str = 'knn_top1',
                 eval_at_end: bool = True) -> None:
        for field, cfg in zip(_FIELDS, (train_dataloader, val_dataloader)):
            if not isinstance(cfg, dict) or 'dataset' not in cfg:
                raise ValueError(f'KNNMonitorHook: {field} must be a '
                                 'dataloader config dict with a dataset')
        if int(interval) < 1:
            raise ValueError(
                f'KNNMonitorHook: interval must be >= 1, got {interval}')
        if int(k) < 1:
            raise ValueError(f'KNNMonitorHook: k must be >= 1, got {k}')
        if not float(temperature) > 0:
            raise ValueError('KNNMonitorHook: temperature must be > 0, got '
                             f'{temperature}')
        self.train_dataloader_cfg = train_dataloader
        self.val_dataloader_cfg = val_dataloader
        self.interval = int(interval)
        self.k = int(k)
        self.temperature = float(temperature)
        self.name = name
        self.eval_at_end = eval_at_end
        self._loaders = None

    def before_train(self, runner) -> None:
        """Build both dataloaders (fails early on a bad config)."""
        refuse_sharded_model(runner, 'KNNMonitorHook')
        # as the Runner does: under diff_rank_seed the sampler seed comes
        # from rank 0 (per-rank shuffles would shard the kNN sets unevenly)
        diff_rank_seed = runner._randomness_cfg.get('diff_rank_seed', False)
        with preserved_rng_state():
            self._loaders = tuple(
                runner.build_dataloader(
                    cfg, seed=runner.seed, diff_rank_seed=diff_rank_seed)
                for cfg in (self.train_dataloader_cfg,
                            self.val_dataloader_cfg))
        for field, loader in zip(_FIELDS, self._loaders):
            if len(loader.dataset) == 0:
                raise ValueError(f'KNNMonitorHook: {field} dataset is empty')

    def after_train_iter(self,
                         runner,
                         batch_idx: int,
                         data_batch: Optional[dict] = None,
                         outputs: Optional[dict] = None) -> None:
        """Measure on schedule."""
        if (self.every_n_train_iters(runner, self.interval)
                or (self.eval_at_end and self.is_last_train_iter(runner))):
            self.evaluate(runner)

    @torch.no_grad()
    def _extract(self, model, loader,
                 field: str) -> Tuple[torch.Tensor, torch.Tensor]:
        """Features and labels in dataset order on rank 0 (others: None)."""
        results = []
        for data in loader:
            data = model.data_preprocessor(data, False)
            inputs = data['inputs']
            if isinstance(inputs, (list, tuple)):
                raise ValueError(
                    f'KNNMonitorHook: {field} gives {len(inputs)} views per '
                    'sample; use a single-view pipeline (no MultiView)')
            feats = _pooled(model.extract_feat(inputs)).cpu()
            for feat, sample in zip(feats, data['data_samples']):
                if 'gt_label' not in sample:
                    raise ValueError(
                        f'KNNMonitorHook: {field} samples have no gt_label; '
                        'the kNN sets must be labelled')
                results.append((sample.metainfo.get('sample_idx'), feat,
                                int(sample.gt_label.reshape(-1)[0])))
        parts = all_gather_object(results)
        if not is_main_process():
            return None, None
        # DefaultSampler shards round-robin: interleave the parts back
        merged = [
            r for r in chain.from_iterable(zip_longest(*parts))
            if r is not None
        ]
        size = len(loader.dataset)
        if all(r[0] is not None for r in merged):
            # the first occurrence of each sample; drops the sampler's padding
            by_index = {}
            for r in merged:
                by_index.setdefault(int(r[0]), r)
            merged = [by_index[i] for i in sorted(by_index)]
        else:  # no sample_idx in the metainfo: trust the sampler's order
            merged = merged[:size]
        if len(merged) != size:
            raise RuntimeError(
                f'KNNMonitorHook: {field} gave {len(merged)} distinct '
                f'samples for a dataset of {size}')
        return (torch.stack([r[1] for r in merged]),
                torch.tensor([r[2] for r in merged]))

    def evaluate(self, runner) -> Optional[float]:
        """Measure kNN top-1 now; log, record and return it (%, all ranks)."""
        if self._loaders is None:
            self.before_train(runner)
        # on every rank: outside training, runner.iter builds the train
        # loop, whose sampler synchronises a seed across ranks
        step = runner.iter + 1
        model = runner.model
        model = model.module if is_model_wrapper(model) else model
        was_training = model.training
        model.eval()
        try:
            with preserved_rng_state():
                bank, query = [
                    self._extract(model, loader, field)
                    for loader, field in zip(self._loaders, _FIELDS)
                ]
        finally:
            model.train(was_training)
        acc = [None]
        if is_main_process():
            acc[0] = self._vote(runner, step, *bank, *query)
        broadcast_object_list(acc)
        runner.message_hub.update_scalar(f'train/{self.name}', acc[0])
        return acc[0]

    def _vote(self, runner, step, bank, bank_labels, query,
              query_labels) -> float:
        k = self.k
        if k > len(bank):
            runner.logger.warning(
                f'KNNMonitorHook: k={k} > {len(bank)} training samples; '
                f'using k={len(bank)}')
            k = len(bank)
        num_classes = int(max(bank_labels.max(), query_labels.max())) + 1
        unseen = set(query_labels.tolist()) - set(bank_labels.tolist())
        if unseen:
            runner.logger.warning(
                f'KNNMonitorHook: val classes {sorted(unseen)} have no '
                'training sample and are never predicted')
        preds = weighted_knn_predict(bank, bank_labels, query, num_classes, k,
                                     self.temperature)
        acc = float((preds == query_labels).float().mean() * 100)
        runner.logger.info(
            f'KNNMonitorHook: iter {step} {self.name} '
            f'{acc:.2f}% (k={k}, T={self.temperature}, {len(bank)} train / '
            f'{len(query)} val samples)')
        return acc
