# Copyright (c) vicmae_mm contributors. All rights reserved.
"""Documented compatibility fixes applied when ``vicmae_mm`` is imported.

Each fix is narrow, idempotent and only acts where the problem exists:

1. ``mmaction2==1.2.0`` wheels and sdist ship without
   ``mmaction/models/localizers/drn`` although ``localizers/__init__.py``
   imports it, so ``import mmaction.models`` fails. If (and only if) that
   folder is missing, a placeholder module is put in ``sys.modules``; its
   ``DRN`` class raises a clear error when built. Nothing on disk changes.
2. mmengine 0.10.7 calls ``torch.load`` with torch's default, which is
   ``weights_only=True`` since torch 2.6, and then fails on its own
   ``HistoryBuffer``. The local-file checkpoint loader is replaced by
   :func:`vicmae_mm.utils.checkpoint.safe_load_checkpoint`: still
   ``weights_only=True``, with an explicit allowlist of what mmengine
   checkpoints contain (never ``getattr`` or other callables), a clear
   refusal otherwise, and an opt-in for checkpoints the user trusts.
"""
import importlib.util
import os.path as osp
import sys
import types

_APPLIED = False


class _MissingDRN:
    """Stand-in for mmaction2's DRN localizer, absent from its wheel."""

    def __init__(self, *args, **kwargs) -> None:
        raise ImportError(
            'mmaction2 1.2.0 is published without '
            'mmaction/models/localizers/drn; DRN is unavailable in this '
            'environment (vicmae_mm only provides a placeholder so that '
            '`import mmaction.models` works).')


def provide_missing_mmaction_drn() -> bool:
    """Insert a placeholder ``mmaction.models.localizers.drn`` if needed.

    Returns:
        bool: True if the placeholder was installed.
    """
    name = 'mmaction.models.localizers.drn'
    if name in sys.modules:
        return False
    spec = importlib.util.find_spec('mmaction')
    if spec is None or spec.origin is None:
        return False
    if osp.isdir(osp.join(osp.dirname(spec.origin), 'models', 'localizers',
                          'drn')):
        return False
    pkg = types.ModuleType(name)
    pkg.__path__ = []  # a package, so `from .drn.drn import DRN` resolves
    pkg.__doc__ = 'Placeholder installed by vicmae_mm.utils.compat.'
    mod = types.ModuleType(name + '.drn')
    mod.DRN = _MissingDRN
    pkg.drn = mod
    sys.modules[name] = pkg
    sys.modules[name + '.drn'] = mod
    return True


def apply() -> None:
    """Apply every compatibility fix once."""
    global _APPLIED
    if _APPLIED:
        return
    provide_missing_mmaction_drn()
    from .checkpoint import register_safe_local_loader
    register_safe_local_loader()
    _APPLIED = True
