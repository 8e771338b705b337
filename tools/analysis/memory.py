# Copyright (c) vicmae_mm contributors. All rights reserved.
"""Peak tensor memory of a piece of work, from the PyTorch profiler.

On CPU there is no allocator high-water mark to read (``torch.cuda``'s
``max_memory_allocated`` has no CPU twin) and the resident set size
follows glibc's caching rather than live tensors. The profiler's memory
timeline records every tensor allocation and free with its size; the
running sum of those is the exact live tensor memory, and its maximum is
the peak. Tensors that exist before the work starts (parameters, gradient
buffers, optimizer state) are not counted: the figure is what the work
itself adds.
"""
from typing import Callable, Dict

import torch
from torch.profiler import ProfilerActivity, profile


def allocation_peak(fn: Callable[[], object],
                    device: str = 'cpu') -> Dict[str, int]:
    """Run ``fn`` under the profiler and return its tensor memory peak.

    Args:
        fn (Callable): The work, e.g. a forward and backward pass.
        device (str): ``'cpu'`` or ``'cuda'``: whose allocations count.

    Returns:
        Dict[str, int]: ``peak`` (bytes above the memory held before ``fn``)
        and ``end`` (bytes still held when ``fn`` returns, e.g. gradients).
    """
    # private module, but the documented source of export_memory_timeline
    from torch.profiler._memory_profiler import Action, MemoryProfile
    acts = [ProfilerActivity.CPU]
    if device == 'cuda':
        acts.append(ProfilerActivity.CUDA)
    with profile(
            activities=acts,
            profile_memory=True,
            record_shapes=True,
            with_stack=True) as prof:
        fn()
    timeline = MemoryProfile(prof.profiler.kineto_results).timeline
    live = peak = 0
    for _, action, (key, _), size in timeline:
        if key.device.type != device:
            continue
        if action == Action.CREATE:
            live += size
            peak = max(peak, live)
        elif action == Action.DESTROY:
            live -= size
    return dict(peak=peak, end=live)
