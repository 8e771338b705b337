# Copyright (c) vicmae_mm contributors. All rights reserved.
"""A faster forward for mmpretrain's ViT blocks, with the same parameters.

mmpretrain's ``TransformerEncoderLayer`` (used by the MAE encoder and
decoder) is built for flexibility: dropout, drop-path and layer-scale
modules that are identities in MAE pretraining, and ``nn.Linear`` layers
whose fp32 matmuls go to MKL. On AMD CPUs MKL takes its AVX2 code path,
about half the fp32 GEMM rate oneDNN reaches with AVX-512 on the same
cores (measured by ``tools/analysis/benchmark_pretrain.py``). This module
runs such a block with

- every fp32 CPU matmul (forward and both backward GEMMs) through oneDNN
  (``torch.ops.mkldnn._linear_pointwise``), with strided operands, so no
  transposed copies are made;
- the residual additions fused into the output projections;
- ``F.scaled_dot_product_attention`` on strided q/k/v views (its output is
  already laid out as ``(B, N, heads, dim)``, so merging heads is free),
  except for bf16/fp16 on CPU, where two batched matmuls around an fp32
  softmax are 2-4x faster than PyTorch's CPU flash kernel, whose backward
  dominated a bf16 step (see :func:`attention`);
- optional activation checkpointing per block.

Blocks that use something this path does not implement (layer scale,
non-zero dropout / drop-path while training, ``qk_scale``, ``v_shortcut``,
another FFN or norm) run their own ``forward``: the fast path never changes
what is computed, only how. Under autocast, under ``torch.compile``, on GPUs
or without oneDNN the matmuls fall back to ``F.linear``.
"""
from typing import Optional, Sequence, Union

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmcv.cnn.bricks.transformer import FFN
from mmengine.registry import FUNCTIONS
from mmpretrain.models.backbones.vision_transformer import \
    TransformerEncoderLayer
from mmpretrain.models.utils.attention import MultiheadAttention
from torch.utils.checkpoint import checkpoint

__all__ = [
    'onednn_available', 'fast_linear', 'attention', 'is_plain_vit_block',
    'plain_vit_block_forward', 'run_vit_blocks', 'resolve_checkpointing',
    'vit_block_wrap_policy'
]


def onednn_available() -> bool:
    """Whether oneDNN's dense fp32 linear kernel can be called."""
    return (torch.backends.mkldnn.is_available()
            and hasattr(torch.ops.mkldnn, '_linear_pointwise'))


_ONEDNN = onednn_available()


def _mm_nt(a: torch.Tensor,
           b: torch.Tensor,
           bias: Optional[torch.Tensor] = None) -> torch.Tensor:
    """``a @ b.T (+ bias)`` by oneDNN; ``a``/``b`` may be strided views."""
    return torch.ops.mkldnn._linear_pointwise(a, b, bias, 'none', [], '')


class _OneDNNLinear(torch.autograd.Function):
    """``x @ W.T + b (+ residual)`` with all three GEMMs in oneDNN."""

    @staticmethod
    def forward(ctx, x: torch.Tensor, weight: torch.Tensor,
                bias: Optional[torch.Tensor],
                residual: Optional[torch.Tensor]) -> torch.Tensor:
        x2d = x.reshape(-1, x.shape[-1])
        if residual is None:
            out = _mm_nt(x2d, weight, bias)
        else:
            out = torch.ops.mkldnn._linear_pointwise.binary(
                x2d, residual.reshape(-1, weight.shape[0]), weight, bias,
                'add')
        ctx.save_for_backward(x2d, weight)
        ctx.in_shape = x.shape
        ctx.has_bias = bias is not None
        return out.view(*x.shape[:-1], weight.shape[0])

    @staticmethod
    def backward(ctx, grad_out: torch.Tensor):
        x2d, weight = ctx.saved_tensors
        g2d = grad_out.reshape(-1, weight.shape[0])
        grad_x = grad_w = grad_b = grad_res = None
        if ctx.needs_input_grad[0]:
            grad_x = _mm_nt(g2d, weight.t()).view(ctx.in_shape)
        if ctx.needs_input_grad[1]:
            grad_w = _mm_nt(g2d.t(), x2d.t())
        if ctx.has_bias and ctx.needs_input_grad[2]:
            grad_b = g2d.sum(0)
        if ctx.needs_input_grad[3]:
            grad_res = grad_out
        return grad_x, grad_w, grad_b, grad_res


def fast_linear(x: torch.Tensor,
                weight: torch.Tensor,
                bias: Optional[torch.Tensor] = None,
                residual: Optional[torch.Tensor] = None) -> torch.Tensor:
    """``F.linear(x, weight, bias) (+ residual)``, by oneDNN for fp32 CPU.

    Args:
        x (torch.Tensor): ``(..., in_features)``.
        weight (torch.Tensor): ``(out_features, in_features)``.
        bias (torch.Tensor, optional): ``(out_features, )``.
        residual (torch.Tensor, optional): Added to the output (same shape).

    Returns:
        torch.Tensor: ``(..., out_features)``.
    """
    # under torch.compile, Inductor lowers this oneDNN op only for constant
    # (inference) weights: let it compile F.linear instead
    if (_ONEDNN and x.device.type == 'cpu' and x.dtype == torch.float32
            and weight.dtype == torch.float32
            and (residual is None or residual.dtype == torch.float32)
            and not torch.is_autocast_enabled('cpu')
            and not torch.compiler.is_compiling()):
        return _OneDNNLinear.apply(x, weight, bias, residual)
    out = F.linear(x, weight, bias)
    return out if residual is None else residual + out


def _is_noop_dropout(module: nn.Module, training: bool) -> bool:
    if isinstance(module, nn.Identity):
        return True
    prob = getattr(module, 'drop_prob', getattr(module, 'p', None))
    return prob is not None and (prob == 0 or not training)


def is_plain_vit_block(layer: nn.Module) -> bool:
    """Whether :func:`plain_vit_block_forward` computes exactly what
    ``layer.forward`` computes (pre-norm ViT block, GELU MLP, no layer
    scale, no active dropout / drop-path)."""
    if type(layer) is not TransformerEncoderLayer:
        return False
    attn, ffn, train = layer.attn, layer.ffn, layer.training
    if not (type(layer.ln1) is nn.LayerNorm and type(layer.ln2) is nn.LayerNorm
            and type(attn) is MultiheadAttention and type(ffn) is FFN):
        return False
    if (attn.v_shortcut or attn.input_dims != attn.embed_dims
            or attn.scaled_dot_product_attention
            is not F.scaled_dot_product_attention
            or not isinstance(attn.gamma1, nn.Identity)
            or (attn.attn_drop and train)
            or not _is_noop_dropout(attn.proj_drop, train)
            or not _is_noop_dropout(attn.out_drop, train)):
        return False
    if (len(ffn.layers) != 3 or not ffn.add_identity
            or not isinstance(ffn.gamma2, nn.Identity)
            or not _is_noop_dropout(ffn.dropout_layer, train)
            or not _is_noop_dropout(ffn.layers[2], train)):
        return False
    first = ffn.layers[0]
    return (len(first) == 3 and type(first[1]) is nn.GELU
            and first[1].approximate == 'none'
            and _is_noop_dropout(first[2], train)
            and isinstance(first[0], nn.Linear)
            and isinstance(ffn.layers[1], nn.Linear))


def attention(q: torch.Tensor, k: torch.Tensor,
              v: torch.Tensor) -> torch.Tensor:
    """``softmax(q k^T / sqrt(d)) v`` on ``(B, heads, N, dim)`` tensors.

    ``F.scaled_dot_product_attention`` except for half precision on CPU:
    there PyTorch's flash kernel runs its backward 4-6x slower than two
    batched bf16 matmuls (ViT-B/16 shapes, 2 cores: 12.8 vs 2.0 ms for the
    encoder's 99 tokens, 20.2 vs 4.9 ms for the decoder's 197), so the
    scores are computed by matmul with the softmax in fp32.

    Returns:
        torch.Tensor: ``(B, heads, N, dim)`` (maybe a strided view).
    """
    if q.device.type == 'cpu' and q.dtype in (torch.bfloat16, torch.float16):
        scores = (q * q.shape[-1]**-0.5) @ k.transpose(-2, -1)
        return scores.float().softmax(-1).to(v.dtype) @ v
    return F.scaled_dot_product_attention(q, k, v)


def plain_vit_block_forward(layer: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """Run a block accepted by :func:`is_plain_vit_block` on ``(B, N, C)``.

    Same parameters and the same computation as ``layer(x)``; only the
    kernels and the memory traffic differ.
    """
    attn, ffn = layer.attn, layer.ffn
    B, N, C = x.shape
    h = F.layer_norm(x, (C, ), layer.ln1.weight, layer.ln1.bias, layer.ln1.eps)
    qkv = fast_linear(h, attn.qkv.weight, attn.qkv.bias)
    # (B, N, 3, heads, dim) -> three strided (B, heads, N, dim) views
    q, k, v = qkv.view(B, N, 3, attn.num_heads,
                       attn.head_dims).permute(2, 0, 3, 1, 4).unbind(0)
    out = attention(q, k, v)
    # the CPU SDPA output is (B, N, heads, dim) in memory: no copy here
    out = out.transpose(1, 2).reshape(B, N, C)
    x = fast_linear(out, attn.proj.weight, attn.proj.bias, residual=x)
    h = F.layer_norm(x, (C, ), layer.ln2.weight, layer.ln2.bias, layer.ln2.eps)
    fc1, fc2 = ffn.layers[0][0], ffn.layers[1]
    h = F.gelu(fast_linear(h, fc1.weight, fc1.bias))
    return fast_linear(h, fc2.weight, fc2.bias, residual=x)


def _block_forward(layer: nn.Module, x: torch.Tensor,
                   fast: bool) -> torch.Tensor:
    if fast and is_plain_vit_block(layer):
        return plain_vit_block_forward(layer, x)
    return layer(x)


def resolve_checkpointing(value: Union[bool, int], num_layers: int,
                          owner: str) -> int:
    """Number of leading blocks to checkpoint from a config value.

    Args:
        value (bool | int): ``False``/``0`` none, ``True`` all, ``k`` the
            first ``k`` blocks.
        num_layers (int): Blocks available.
        owner (str): Name used in error messages.

    Returns:
        int: How many blocks to checkpoint.
    """
    if isinstance(value, bool):
        return num_layers if value else 0
    if not isinstance(value, int) or not 0 <= value <= num_layers:
        raise ValueError(
            f'{owner}: checkpoint_activations must be a bool or an int in '
            f'[0, {num_layers}], got {value!r}')
    return value


def run_vit_blocks(layers: Sequence[nn.Module],
                   x: torch.Tensor,
                   fast: bool = True,
                   num_checkpointed: int = 0) -> torch.Tensor:
    """Apply ``layers`` in order.

    Args:
        layers (Sequence[nn.Module]): Transformer blocks.
        x (torch.Tensor): ``(B, N, C)`` tokens.
        fast (bool): Use :func:`plain_vit_block_forward` where it applies.
        num_checkpointed (int): Recompute the activations of the first
            ``num_checkpointed`` blocks in backward instead of storing them
            (only while gradients are being recorded).

    Returns:
        torch.Tensor: The output tokens.
    """
    record = torch.is_grad_enabled()
    for i, layer in enumerate(layers):
        if record and i < num_checkpointed:
            x = checkpoint(_block_forward, layer, x, fast, use_reentrant=False)
        else:
            x = _block_forward(layer, x, fast)
    return x


@FUNCTIONS.register_module()
def vit_block_wrap_policy(module: nn.Module, recurse: bool,
                          nonwrapped_numel: int, **kwargs) -> bool:
    """FSDP auto-wrap policy: every ViT block (encoder and MAE decoder) is
    one FSDP unit, so one block's parameters are gathered at a time.

    Use it as ``auto_wrap_policy='vit_block_wrap_policy'`` in an
    ``FSDPStrategy``'s ``model_wrapper`` (size-based policies cannot
    separate ViT-H's 4.9M-parameter qkv layers from its 3.2M-parameter
    decoder blocks).
    """
    return recurse or isinstance(module, TransformerEncoderLayer)
