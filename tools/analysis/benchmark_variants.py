# Copyright (c) vicmae_mm contributors. All rights reserved.
"""The variants ``benchmark_pretrain.py`` compares (ours, fp32, reference,
released, checkpointed, compiled) and one timed training step of each."""
import time
from contextlib import contextmanager
from typing import Dict, List

import torch

SPLITS = ('data', 'forward', 'backward', 'optimizer')


class Variant:
    """One way of computing the loss and the optimizer wrapper it uses;
    ``setup``/``teardown`` switch the model into and out of it."""

    def __init__(self, name, loss_fn, wrapper, setup=None, teardown=None):
        self.name, self.loss_fn, self.wrapper = name, loss_fn, wrapper
        self.setup = setup or (lambda: None)
        self.teardown = teardown or (lambda: None)

    @contextmanager
    def active(self):
        self.setup()
        try:
            yield
        finally:
            self.teardown()


def set_checkpointing(model, on: bool) -> None:
    """Checkpoint every encoder and decoder block, or none."""
    for part, blocks in ((model.backbone, 'layers'), (model.neck,
                                                      'decoder_blocks')):
        if hasattr(part, 'num_checkpointed'):
            part.num_checkpointed = len(getattr(part, blocks)) if on else 0


def released_blocks(model) -> Dict[int, torch.nn.Module]:
    """timm ``Block`` modules (what the released ViC-MAE code builds) that
    share the parameters of the model's blocks, by ``id`` of the block."""
    from functools import partial

    from timm.models.vision_transformer import Block
    blocks = {}
    for layer in list(model.backbone.layers) + list(model.neck.decoder_blocks):
        fc1, fc2 = layer.ffn.layers[0][0], layer.ffn.layers[1]
        blk = Block(layer.embed_dims,
                    layer.attn.num_heads,
                    mlp_ratio=fc1.out_features / layer.embed_dims,
                    qkv_bias=True,
                    norm_layer=partial(torch.nn.LayerNorm, eps=layer.ln1.eps))
        pairs = ((blk.norm1, layer.ln1), (blk.attn.qkv, layer.attn.qkv),
                 (blk.attn.proj, layer.attn.proj), (blk.norm2, layer.ln2),
                 (blk.mlp.fc1, fc1), (blk.mlp.fc2, fc2))
        for dst, src in pairs:
            dst.weight, dst.bias = src.weight, src.bias
        blocks[id(layer)] = blk.to(fc1.weight.device).train()
    return blocks


def build_variants(model, wrappers, args) -> List[Variant]:
    import reference_vicmae
    main = wrappers.get('amp', wrappers['fp32'])

    def ours(inputs, noise=None):
        return model.loss(inputs, mask_noise=noise)

    variants = [Variant('ours', ours, main)]
    if args.compare_fp32:
        variants.append(Variant('ours-fp32', ours, wrappers['fp32']))
    if args.reference or args.released:
        ref = reference_vicmae.ReferenceViCMAE(model)
    if args.reference:
        variants.append(Variant('reference', ref.loss, wrappers['fp32']))
    if args.released:
        # the reference's structure with its blocks swapped for timm's
        timm_blocks = released_blocks(model)
        plain = reference_vicmae.reference_block

        def use(fn):
            return lambda: setattr(reference_vicmae, 'reference_block', fn)

        variants.append(
            Variant('released', ref.loss, wrappers['fp32'],
                    use(lambda layer, x: timm_blocks[id(layer)](x)),
                    use(plain)))
    if args.checkpoint_activations:
        variants.append(
            Variant('ours-ckpt', ours, main,
                    lambda: set_checkpointing(model, True),
                    lambda: set_checkpointing(model, False)))
    if args.compile:
        compiled = torch.compile(model.loss)
        variants.append(
            Variant(
                'ours-compiled',
                lambda inputs, noise=None: compiled(inputs, mask_noise=noise),
                main))
    return variants


def sync(device: str) -> None:
    if device == 'cuda':
        torch.cuda.synchronize()


def train_step(model, variant: Variant, loader, device) -> Dict[str, float]:
    """One step; seconds per phase."""
    t = [time.perf_counter()]
    data = model.data_preprocessor(next(loader), True)
    sync(device)
    t.append(time.perf_counter())
    with variant.wrapper.optim_context(model):
        losses = variant.loss_fn(data['inputs'])
    loss = sum(v for k, v in losses.items() if 'loss' in k)
    sync(device)
    t.append(time.perf_counter())
    variant.wrapper.backward(loss)
    sync(device)
    t.append(time.perf_counter())
    variant.wrapper.step()
    variant.wrapper.zero_grad()
    sync(device)
    t.append(time.perf_counter())
    times = {s: t[i + 1] - t[i] for i, s in enumerate(SPLITS)}
    return dict(times, total=t[-1] - t[0])
