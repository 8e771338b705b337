# Copyright (c) vicmae_mm contributors. All rights reserved.
"""ViTDet backbone for mmdet that loads the ViC-MAE pretraining encoder."""
import math
from typing import Optional, Sequence, Tuple, Union

import numpy as np
import torch
import torch.nn.functional as F
from mmcv.cnn.bricks.transformer import PatchEmbed
from mmdet.registry import MODELS
from mmengine.logging import print_log
from mmengine.model import BaseModule, ModuleList
from mmengine.model.weight_init import trunc_normal_
from mmpretrain.models.utils import resize_pos_embed
from torch import nn
from torch.utils.checkpoint import checkpoint

from .vitdet_block import ViTDetBlock


@MODELS.register_module()
class ViTDet(BaseModule):
    """Plain ViT backbone for detection (`ViTDet
    <https://arxiv.org/abs/2203.16527>`_).

    Windowed attention in most blocks and global attention in a few (by
    default the last block of each quarter), learnable absolute position
    embeddings on the detection grid, optional decomposed relative
    positions (zero-initialised), stochastic depth and activation
    checkpointing. It returns the last block's map at stride
    ``patch_size``; a :class:`SimpleFeaturePyramid` neck builds the
    pyramid from it.

    **Loading the pretraining checkpoint.** Parameter names are mmpretrain
    ``VisionTransformer``'s, so
    ``init_cfg=dict(type='Pretrained', checkpoint=CKPT, prefix='backbone.')``
    loads a ViC-MAE checkpoint. A load hook adapts, and logs:

    - ``pos_embed`` ``(1, 1 + h*w, C)`` of the pretraining grid: the cls
      position is dropped and the ``h x w`` grid interpolated to this
      model's grid ``(1, H, W, C)``;
    - relative tables of another size are linearly interpolated.

    What stays unmatched is reported by mmengine by name and is expected:
    *missing* ``layers.{i}.attn.rel_pos_{h,w}`` (new, zero start) and
    *unexpected* ``cls_token`` and ``ln1.{weight,bias}`` (ViTDet pools no
    token and, like the original, drops the pretraining final norm: the
    neck normalises each pyramid level itself). A checkpoint of another
    width or patch size is refused with an error naming the key.

    Args:
        arch (str | dict): ``'small'``, ``'base'``, ``'large'``, ``'huge'``
            or a dict with ``embed_dims``, ``num_layers``, ``num_heads``,
            ``feedforward_channels`` and optionally ``global_attn_indexes``
            (default: the last block of each quarter). Defaults to 'base'.
        img_size (int | tuple): Nominal input size; sizes the position
            embedding and global relative tables. Other sizes work by
            interpolation. Defaults to 1024.
        patch_size (int): Patch size (must match the checkpoint).
            Defaults to 16.
        in_channels (int): Image channels. Defaults to 3.
        window_size (int): Window side for windowed blocks; 0 makes every
            block global. Defaults to 14.
        global_attn_indexes (Sequence[int], optional): Blocks with global
            attention, overriding the arch's.
        use_rel_pos (bool): Decomposed relative positions. Defaults to True.
        qkv_bias (bool): Bias in qkv. Defaults to True.
        drop_rate (float): Dropout after position embedding and MLPs.
            Defaults to 0.
        drop_path_rate (float): Maximum stochastic depth (linear over
            blocks). Defaults to 0.1.
        norm_cfg (dict): Block norms. Defaults to LN, eps 1e-6.
        act_cfg (dict): MLP activation. Defaults to GELU.
        interpolate_mode (str): Position-embedding interpolation.
            Defaults to 'bicubic'.
        with_cp (bool): Activation checkpointing of every block while
            training (less memory, one more forward). Defaults to False.
        init_cfg (dict, optional): Initialisation, typically ``Pretrained``.
    """

    arch_zoo = {
        **dict.fromkeys(['s', 'small'], dict(
            embed_dims=384, num_layers=12, num_heads=6,
            feedforward_channels=1536)),
        **dict.fromkeys(['b', 'base'], dict(
            embed_dims=768, num_layers=12, num_heads=12,
            feedforward_channels=3072)),
        **dict.fromkeys(['l', 'large'], dict(
            embed_dims=1024, num_layers=24, num_heads=16,
            feedforward_channels=4096)),
        **dict.fromkeys(['h', 'huge'], dict(
            embed_dims=1280, num_layers=32, num_heads=16,
            feedforward_channels=5120)),
    }
    _arch_keys = {
        'embed_dims', 'num_layers', 'num_heads', 'feedforward_channels'
    }

    def __init__(self,
                 arch: Union[str, dict] = 'base',
                 img_size: Union[int, Sequence[int]] = 1024,
                 patch_size: int = 16,
                 in_channels: int = 3,
                 window_size: int = 14,
                 global_attn_indexes: Optional[Sequence[int]] = None,
                 use_rel_pos: bool = True,
                 qkv_bias: bool = True,
                 drop_rate: float = 0.,
                 drop_path_rate: float = 0.1,
                 norm_cfg: dict = dict(type='LN', eps=1e-6),
                 act_cfg: dict = dict(type='GELU'),
                 interpolate_mode: str = 'bicubic',
                 with_cp: bool = False,
                 init_cfg: Optional[dict] = None) -> None:
        super().__init__(init_cfg=init_cfg)
        settings = self._arch_settings(arch)
        self.embed_dims = settings['embed_dims']
        self.num_layers = settings['num_layers']
        if global_attn_indexes is None:
            global_attn_indexes = settings.get('global_attn_indexes')
        if global_attn_indexes is None:
            quarter = self.num_layers // 4
            global_attn_indexes = [
                quarter * (i + 1) - 1 for i in range(4)
            ] if quarter else [self.num_layers - 1]
        self.global_attn_indexes = tuple(
            i + self.num_layers if i < 0 else i for i in global_attn_indexes)
        bad = [i for i in self.global_attn_indexes
               if not 0 <= i < self.num_layers]
        if bad:
            raise ValueError(f'ViTDet: global_attn_indexes {bad} out of range '
                             f'for {self.num_layers} layers')
        if window_size < 0:
            raise ValueError(
                f'ViTDet: window_size must be >= 0, got {window_size}')
        img_size = (img_size, img_size) if isinstance(img_size, int) else \
            tuple(img_size)
        if any(s % patch_size for s in img_size):
            raise ValueError(f'ViTDet: img_size {img_size} is not divisible '
                             f'by patch_size {patch_size}')
        self.img_size = img_size
        self.patch_size = patch_size
        self.window_size = window_size
        self.interpolate_mode = interpolate_mode
        self.with_cp = with_cp

        self.patch_embed = PatchEmbed(
            in_channels=in_channels,
            embed_dims=self.embed_dims,
            conv_type='Conv2d',
            kernel_size=patch_size,
            stride=patch_size,
            input_size=img_size)
        self.patch_resolution = tuple(self.patch_embed.init_out_size)
        self.pos_embed = nn.Parameter(
            torch.zeros(1, *self.patch_resolution, self.embed_dims))
        self.drop_after_pos = nn.Dropout(p=drop_rate)

        dpr = np.linspace(0, drop_path_rate, self.num_layers)
        self.layers = ModuleList()
        for i in range(self.num_layers):
            is_global = i in self.global_attn_indexes
            self.layers.append(
                ViTDetBlock(
                    embed_dims=self.embed_dims,
                    num_heads=settings['num_heads'],
                    feedforward_channels=settings['feedforward_channels'],
                    window_size=0 if is_global else window_size,
                    input_size=self.patch_resolution,
                    use_rel_pos=use_rel_pos,
                    qkv_bias=qkv_bias,
                    drop_rate=drop_rate,
                    drop_path_rate=float(dpr[i]),
                    act_cfg=act_cfg,
                    norm_cfg=norm_cfg))
        self._register_load_state_dict_pre_hook(self._adapt_checkpoint)

    def _arch_settings(self, arch: Union[str, dict]) -> dict:
        if isinstance(arch, str):
            if arch.lower() not in self.arch_zoo:
                raise ValueError(f'ViTDet: unknown arch {arch!r}; choose from '
                                 f'{sorted(self.arch_zoo)} or pass a dict')
            return dict(self.arch_zoo[arch.lower()])
        if not isinstance(arch, dict) or not self._arch_keys <= set(arch):
            raise ValueError(f'ViTDet: a custom arch must be a dict with keys '
                             f'{sorted(self._arch_keys)}, got {arch!r}')
        return dict(arch)

    def init_weights(self) -> None:
        """ViTDet initialisation unless weights come from a checkpoint."""
        pretrained = isinstance(self.init_cfg, dict) and \
            self.init_cfg.get('type') == 'Pretrained'
        if not pretrained:
            trunc_normal_(self.pos_embed, std=0.02)
            for m in self.modules():
                if isinstance(m, nn.Linear):
                    trunc_normal_(m.weight, std=0.02)
                    if m.bias is not None:
                        nn.init.zeros_(m.bias)
                elif isinstance(m, nn.LayerNorm):
                    nn.init.ones_(m.weight)
                    nn.init.zeros_(m.bias)
        super().init_weights()

    # ----------------------------------------------------------- loading
    def _grid_pos_embed(self, pos_embed: torch.Tensor,
                        key: str) -> torch.Tensor:
        """A checkpoint ``pos_embed`` as ``(1, H, W, C)`` on this grid."""
        if pos_embed.shape[-1] != self.embed_dims:
            raise ValueError(
                f'ViTDet: checkpoint {key} has width {pos_embed.shape[-1]}, '
                f'the backbone has embed_dims {self.embed_dims} (wrong arch?)')
        dropped = 0
        if pos_embed.dim() == 3:
            # (1, extra + h*w, C) from a ViT: drop the cls position
            num = pos_embed.shape[1]
            for dropped in (0, 1):
                side = math.isqrt(num - dropped)
                if side * side == num - dropped:
                    break
            else:
                raise ValueError(
                    f'ViTDet: checkpoint {key} has {num} positions, neither '
                    'a square grid nor a square grid plus one cls position')
            src = (side, side)
            tokens = pos_embed[:, dropped:]
        elif pos_embed.dim() == 4:
            src = tuple(pos_embed.shape[1:3])
            tokens = pos_embed.flatten(1, 2)
        else:
            raise ValueError(f'ViTDet: checkpoint {key} has shape '
                             f'{tuple(pos_embed.shape)}; expected (1, L, C) '
                             'or (1, H, W, C)')
        if src != self.patch_resolution or dropped:
            print_log(
                f'ViTDet: {key} {tuple(pos_embed.shape)} -> dropped '
                f'{dropped} cls position(s), grid {src} interpolated '
                f'({self.interpolate_mode}) to {self.patch_resolution}',
                logger='current')
        tokens = resize_pos_embed(
            tokens,
            src,
            self.patch_resolution,
            mode=self.interpolate_mode,
            num_extra_tokens=0)
        return tokens.reshape(1, *self.patch_resolution, self.embed_dims)

    def _adapt_checkpoint(self, state_dict: dict, prefix: str, *args,
                          **kwargs) -> None:
        """Load hook: fit a ViT pretraining checkpoint to this backbone."""
        key = prefix + 'pos_embed'
        if key in state_dict:
            state_dict[key] = self._grid_pos_embed(state_dict[key], key)
        key = prefix + 'patch_embed.projection.weight'
        own = self.patch_embed.projection.weight
        if key in state_dict and state_dict[key].shape != own.shape:
            raise ValueError(
                f'ViTDet: checkpoint {key} has shape '
                f'{tuple(state_dict[key].shape)}, the backbone expects '
                f'{tuple(own.shape)} (patch size or width differ)')
        for name, param in self.named_parameters():
            if 'rel_pos_' not in name or prefix + name not in state_dict:
                continue
            table = state_dict[prefix + name]
            if table.shape[0] != param.shape[0]:
                resized = F.interpolate(
                    table.float().t()[None], size=param.shape[0],
                    mode='linear')[0].t().to(table.dtype)
                print_log(f'ViTDet: {prefix + name} resized from '
                          f'{tuple(table.shape)} to {tuple(resized.shape)}',
                          logger='current')
                state_dict[prefix + name] = resized

    # ----------------------------------------------------------- forward
    def forward(self, x: torch.Tensor) -> Tuple[torch.Tensor]:
        """Encode images.

        Args:
            x (torch.Tensor): ``(B, C, H, W)``; sides that are not a
                multiple of ``patch_size`` are zero-padded.

        Returns:
            tuple[torch.Tensor]: One map ``(B, embed_dims, H/p, W/p)``.
        """
        B = x.shape[0]
        x, hw = self.patch_embed(x)
        hw = tuple(hw)
        x = x.view(B, *hw, self.embed_dims)
        pos = self.pos_embed
        if hw != self.patch_resolution:
            pos = resize_pos_embed(
                pos.flatten(1, 2),
                self.patch_resolution,
                hw,
                mode=self.interpolate_mode,
                num_extra_tokens=0).view(1, *hw, self.embed_dims)
        x = self.drop_after_pos(x + pos)
        for layer in self.layers:
            if self.with_cp and self.training:
                x = checkpoint(layer, x, use_reentrant=False)
            else:
                x = layer(x)
        return (x.permute(0, 3, 1, 2).contiguous(), )

    def get_layer_depth(self, param_name: str,
                        prefix: str = '') -> Tuple[int, int]:
        """Layer depth of a parameter, for layer-wise lr decay.

        Patch and position embeddings are depth 0, block ``i`` is ``i + 1``
        and everything else (neck, heads) is the last depth,
        ``num_layers + 1``, as in ViTDet.

        Args:
            param_name (str): Parameter name.
            prefix (str): The backbone's prefix in ``param_name``.

        Returns:
            tuple[int, int]: ``(depth, num_depths)``.
        """
        num_depths = self.num_layers + 2
        if not param_name.startswith(prefix):
            return num_depths - 1, num_depths
        name = param_name[len(prefix):]
        if name in ('pos_embed', 'cls_token') or \
                name.startswith('patch_embed'):
            return 0, num_depths
        if name.startswith('layers.'):
            return int(name.split('.')[1]) + 1, num_depths
        return num_depths - 1, num_depths
