# Copyright (c) vicmae_mm contributors. All rights reserved.
"""ViC-MAE: masked reconstruction + contrastive learning over view pairs."""
import logging
from typing import Dict, List, Optional, Sequence, Union

import torch
from mmengine.logging import print_log
from mmpretrain.models.selfsup.base import BaseSelfSupervisor
from mmpretrain.registry import MODELS
from mmpretrain.structures import DataSample


@MODELS.register_module()
class ViCMAE(BaseSelfSupervisor):
    """ViC-MAE (Hernandez et al., ECCV 2024).

    A sample is a pair of views (two frames of one video about a second
    apart, or two crops of one image). Both go through the masked encoder
    in **one batched pass**; each view is reconstructed from its own latent
    (MAE decoder and loss); the patch tokens are pooled, projected and
    trained with InfoNCE over the global batch. ``loss_rec`` and
    ``loss_nce`` are reported already weighted, plus ``nce_acc``.

    With ``loss_weights['nce'] == 0`` the contrastive branch is not built
    (exactly MAE). A ``pool_neck`` without parameters is still built for
    :meth:`extract_feat`; one with parameters is left out with a warning
    (nothing would train it and DDP would stop on its unused parameters).

    Args:
        backbone (dict): Masked encoder, e.g. ``ViCMAEViT``.
        neck (dict): Pixel decoder, e.g. ``MAEPretrainDecoder``.
        head (dict): Reconstruction head, e.g. ``MAEPretrainHead``.
        pool_neck (dict): Token pooling, e.g. ``TokenPoolingNeck``.
        projector (dict): Projection MLP, e.g. ``NonLinearNeck``.
        contrastive_head (dict): e.g. ``InfoNCEHead``.
        loss_weights (dict): ``rec`` and ``nce`` weights, both >= 0.
            Defaults to ``dict(rec=0.97, nce=0.03)``.
        projector_per_view (bool): Run the projector once per view (per-view
            BatchNorm statistics, as in the released code) instead of once
            over both views.
        pretrained (str, optional): As in ``BaseSelfSupervisor``.
        data_preprocessor (dict, optional): Defaults to
            ``SelfSupDataPreprocessor``.
        init_cfg (dict, optional): Initialization config.
    """

    def __init__(self,
                 backbone: dict,
                 neck: dict,
                 head: dict,
                 pool_neck: Optional[dict] = None,
                 projector: Optional[dict] = None,
                 contrastive_head: Optional[dict] = None,
                 loss_weights: Optional[Dict[str, float]] = None,
                 projector_per_view: bool = False,
                 pretrained: Optional[str] = None,
                 data_preprocessor: Optional[dict] = None,
                 init_cfg: Optional[Union[List[dict], dict]] = None) -> None:
        super().__init__(backbone=backbone, neck=neck, head=head,
                         pretrained=pretrained,
                         data_preprocessor=data_preprocessor,
                         init_cfg=init_cfg)
        weights = dict(rec=0.97, nce=0.03)
        if loss_weights is not None:
            unknown = set(loss_weights) - set(weights)
            if unknown:
                raise ValueError(f'ViCMAE: unknown loss_weights keys '
                                 f'{sorted(unknown)}; use "rec" and "nce"')
            weights.update(loss_weights)
        for name, value in weights.items():
            if not float(value) >= 0:
                raise ValueError(f'ViCMAE: loss_weights["{name}"] must be '
                                 f'>= 0, got {value}')
        self.loss_weights = {k: float(v) for k, v in weights.items()}
        self.with_contrastive = self.loss_weights['nce'] > 0
        self.projector_per_view = bool(projector_per_view)
        if self.with_contrastive:
            if None in (pool_neck, projector, contrastive_head):
                raise ValueError('ViCMAE: pool_neck, projector and '
                                 'contrastive_head are required when '
                                 'loss_weights["nce"] > 0')
            self.pool_neck = MODELS.build(pool_neck)
            self.projector = MODELS.build(projector)
            self.contrastive_head = MODELS.build(contrastive_head)
        else:
            self.pool_neck = MODELS.build(pool_neck) if pool_neck else None
            if self.pool_neck is not None and any(
                    True for _ in self.pool_neck.parameters()):
                print_log(
                    f'ViCMAE: model.pool_neck ({pool_neck}) has parameters '
                    'that only the contrastive loss trains; with '
                    'loss_weights["nce"] = 0 it is left out and '
                    'extract_feat mean-pools the patch tokens',
                    logger='current', level=logging.WARNING)
                self.pool_neck = None

    def forward(self, inputs: Union[torch.Tensor, List[torch.Tensor]],
                data_samples: Optional[List[DataSample]] = None,
                mode: str = 'tensor', **kwargs):
        """As :meth:`BaseSelfSupervisor.forward`; extra keyword arguments
        (``mask_noise``) reach :meth:`loss`, also through DDP wrappers."""
        if mode == 'loss':
            return self.loss(inputs, data_samples, **kwargs)
        return super().forward(inputs, data_samples, mode)

    def pool(self, tokens: torch.Tensor) -> torch.Tensor:
        """Global vector from encoder tokens (patch-token mean without a
        pooling neck)."""
        if self.pool_neck is None:
            return tokens[:, 1:].mean(dim=1)
        return self.pool_neck(tokens)

    def extract_feat(self, inputs: torch.Tensor) -> torch.Tensor:
        """Pooled features ``(B, C)`` of unmasked images (what the projector
        gets in training).

        Args:
            inputs (torch.Tensor): Images ``(B, 3, H, W)``.
        """
        return self.pool(self.backbone(inputs, mask=False)[-1])

    def loss(self, inputs: Sequence[torch.Tensor],
             data_samples: Optional[List[DataSample]] = None,
             mask_noise: Optional[torch.Tensor] = None,
             **kwargs) -> Dict[str, torch.Tensor]:
        """Compute the ViC-MAE losses for a batch of view pairs.

        Args:
            inputs (Sequence[torch.Tensor]): ``[view1, view2]``, each
                ``(B, 3, H, W)``.
            data_samples (List[DataSample], optional): Unused.
            mask_noise (torch.Tensor, optional): ``(2B, L)`` masking noise
                (view 1 rows first), for runs that must share masks.

        Returns:
            Dict[str, torch.Tensor]: ``loss_rec``, ``loss_nce`` (weighted)
            and ``nce_acc`` (%).
        """
        if not isinstance(inputs, (list, tuple)) or len(inputs) != 2:
            raise ValueError(
                'ViCMAE.loss expects inputs=[view1, view2] (a pair of views '
                'per sample); check that the pipeline packs two views')
        view1, view2 = inputs
        if view1.shape != view2.shape:
            raise ValueError(f'ViCMAE: views differ in shape: '
                             f'{tuple(view1.shape)} vs {tuple(view2.shape)}')
        b = view1.shape[0]
        images = torch.cat([view1, view2])
        latent, mask, ids_restore = self.backbone(images, noise=mask_noise)
        loss_rec = self.head.loss(self.neck(latent, ids_restore), images, mask)
        losses = {'loss_rec': self.loss_weights['rec'] * loss_rec}
        if self.with_contrastive:
            pooled = self.pool(latent)
            views = pooled.split(b) if self.projector_per_view else (pooled, )
            z = torch.cat([self.projector((v, ))[0] for v in views])
            loss_nce, acc = self.contrastive_head.loss(z[:b], z[b:])
            losses['loss_nce'] = self.loss_weights['nce'] * loss_nce
            losses['nce_acc'] = acc
        return losses
