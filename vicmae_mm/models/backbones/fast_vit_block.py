# Copyright (c) vicmae_mm contributors. All rights reserved.
"""mmpretrain's ViT block with a faster forward and the same parameters; its
CPU kernels: docs/benchmarks/pretraining_speed.md (What makes it fast, 2)."""
import inspect
from typing import Optional, Sequence, Union

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmengine.registry import FUNCTIONS
from mmpretrain.models.backbones.vision_transformer import \
    TransformerEncoderLayer
from mmpretrain.registry import MODELS
from torch.utils.checkpoint import checkpoint

from ..utils import cpu_kernels

__all__ = [
    'FastTransformerEncoderLayer', 'fast_linear', 'attention',
    'run_vit_blocks', 'resolve_checkpointing', 'vit_block_wrap_policy'
]

# probe rows cap: GEMM throughput is flat beyond it, and probes stay short
_PROBE_ROWS = 256


def _mm_nt(a: torch.Tensor, b: torch.Tensor,
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


def _blas_linear(x, weight, bias=None, residual=None):
    out = F.linear(x, weight, bias)
    return out if residual is None else residual + out


_LINEARS = {'blas': _blas_linear, 'onednn': _OneDNNLinear.apply}


def _probe_generator() -> torch.Generator:
    # own generator: training's random stream must not depend on the probes
    return torch.Generator().manual_seed(0)


def _linear_probes(rows: int, in_features: int, out_features: int, bias: bool):
    """Forward + backward of one linear layer per available backend."""
    g = _probe_generator()
    x = torch.randn(rows, in_features, generator=g, requires_grad=True)
    w = torch.randn(out_features, in_features, generator=g, requires_grad=True)
    b = torch.randn(out_features, generator=g,
                    requires_grad=True) if bias else None
    grad = torch.randn(rows, out_features, generator=g)
    names = ['blas'] + (['onednn'] if cpu_kernels.onednn_available() else [])
    return {n: (lambda fn=_LINEARS[n]: fn(x, w, b, None).backward(grad))
            for n in names}


def fast_linear(x: torch.Tensor, weight: torch.Tensor,
                bias: Optional[torch.Tensor] = None,
                residual: Optional[torch.Tensor] = None) -> torch.Tensor:
    """``F.linear (+ residual)``; fp32 on eager CPU by the measured fastest."""
    if not (x.device.type == 'cpu' and not torch.is_autocast_enabled('cpu')
            and not torch.compiler.is_compiling()
            and x.dtype == weight.dtype == torch.float32
            and (residual is None or residual.dtype == torch.float32)):
        return _blas_linear(x, weight, bias, residual)
    rows = min(1 << max(x.numel() // x.shape[-1] - 1, 0).bit_length(),
               _PROBE_ROWS)
    out_f, in_f = weight.shape
    backend = cpu_kernels.select_kernel(
        'linear', ('float32', rows, in_f, out_f),
        lambda: _linear_probes(rows, in_f, out_f, bias is not None))
    return _LINEARS[backend](x, weight, bias, residual)


def _matmul_attention(q: torch.Tensor, k: torch.Tensor,
                      v: torch.Tensor) -> torch.Tensor:
    scores = (q * q.shape[-1]**-0.5) @ k.transpose(-2, -1)
    return scores.float().softmax(-1).to(v.dtype) @ v


_ATTENTIONS = {'sdpa': F.scaled_dot_product_attention,
               'matmul': _matmul_attention}


def _attention_probes(shape, dtype: torch.dtype):
    """Forward + backward of attention on strided views of one qkv."""
    B, H, N, D = shape
    g = _probe_generator()
    qkv = torch.randn(B, N, 3, H, D, generator=g).to(dtype).requires_grad_()
    grad = torch.randn(B, H, N, D, generator=g).to(dtype)

    def run(fn):
        q, k, v = qkv.permute(2, 0, 3, 1, 4).unbind(0)
        fn(q, k, v).backward(grad)

    return {n: (lambda fn=fn: run(fn)) for n, fn in _ATTENTIONS.items()}


def attention(q: torch.Tensor, k: torch.Tensor,
              v: torch.Tensor) -> torch.Tensor:
    """SDPA of ``(B, heads, N, dim)``; on CPU SDPA or matmuls, as measured."""
    if q.device.type != 'cpu' or torch.compiler.is_compiling():
        return F.scaled_dot_product_attention(q, k, v)
    B, H, N, D = q.shape
    probe = (min(B, 2), H, N, D)
    dtype = str(q.dtype).split('.')[-1]
    kind = cpu_kernels.select_kernel('attention', (dtype, ) + probe,
                                     lambda: _attention_probes(probe, q.dtype))
    return _ATTENTIONS[kind](q, k, v)


@MODELS.register_module()
class FastTransformerEncoderLayer(TransformerEncoderLayer):
    """mmpretrain's ``TransformerEncoderLayer`` with a faster forward.

    Arguments, parameters, state-dict keys and results (up to float
    rounding) are the parent's. What the fast forward does not implement
    (layer scale, another FFN, norm or activation, active dropout /
    drop-path) runs the parent's forward (:attr:`uses_fast_forward`).
    """

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        bound = inspect.signature(TransformerEncoderLayer.__init__).bind(
            self, *args, **kwargs)
        bound.apply_defaults()
        a = bound.arguments
        scale = a['layer_scale_init_value']
        self.fast_supported = (
            not torch.is_tensor(scale) and scale == 0 and a['num_fcs'] == 2
            and a['ffn_type'] == 'origin'
            and dict(a['act_cfg'] or {}) == dict(type='GELU')
            and type(self.ln1) is nn.LayerNorm
            and type(self.ln2) is nn.LayerNorm)
        self.stochastic = max(a['drop_rate'], a['attn_drop_rate'],
                              a['drop_path_rate']) > 0

    @property
    def uses_fast_forward(self) -> bool:
        """Whether :meth:`forward` runs the fast forward in this mode."""
        return self.fast_supported and not (self.training and self.stochastic)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Apply the block to ``(B, N, C)`` tokens."""
        if not self.uses_fast_forward:
            return super().forward(x)
        attn, ffn = self.attn, self.ffn
        B, N, C = x.shape
        h = F.layer_norm(x, (C, ), self.ln1.weight, self.ln1.bias,
                         self.ln1.eps)
        qkv = fast_linear(h, attn.qkv.weight, attn.qkv.bias)
        # (B, N, 3, heads, dim) -> three strided (B, heads, N, dim) views
        q, k, v = qkv.view(B, N, 3, attn.num_heads,
                           attn.head_dims).permute(2, 0, 3, 1, 4).unbind(0)
        out = attention(q, k, v).transpose(1, 2).reshape(B, N, C)
        x = fast_linear(out, attn.proj.weight, attn.proj.bias, residual=x)
        h = F.layer_norm(x, (C, ), self.ln2.weight, self.ln2.bias,
                         self.ln2.eps)
        fc1, fc2 = ffn.layers[0][0], ffn.layers[1]
        h = F.gelu(fast_linear(h, fc1.weight, fc1.bias))
        return fast_linear(h, fc2.weight, fc2.bias, residual=x)


def resolve_checkpointing(value: Union[bool, int], num_layers: int,
                          owner: str) -> int:
    """Leading blocks to checkpoint for ``with_cp``: all, none or a count."""
    if isinstance(value, bool):
        return num_layers if value else 0
    if not isinstance(value, int) or not 0 <= value <= num_layers:
        raise ValueError(f'{owner}: with_cp must be a bool or an int in '
                         f'[0, {num_layers}], got {value!r}')
    return value


def run_vit_blocks(layers: Sequence[nn.Module], x: torch.Tensor,
                   num_checkpointed: int = 0) -> torch.Tensor:
    """Apply ``layers`` to tokens, the first ``num_checkpointed`` with
    activation checkpointing while recording gradients."""
    record = torch.is_grad_enabled()
    for i, layer in enumerate(layers):
        if record and i < num_checkpointed:
            x = checkpoint(layer, x, use_reentrant=False)
        else:
            x = layer(x)
    return x


@FUNCTIONS.register_module()
def vit_block_wrap_policy(module: nn.Module, recurse: bool,
                          nonwrapped_numel: int, **kwargs) -> bool:
    """FSDP auto-wrap policy making every ViT block one FSDP unit.

    Size-based policies cannot separate ViT-H's 4.9M-parameter qkv layers
    from its 3.2M-parameter decoder blocks.
    """
    return recurse or isinstance(module, TransformerEncoderLayer)
