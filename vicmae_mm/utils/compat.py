# Copyright (c) vicmae_mm contributors. All rights reserved.
"""Compatibility fixes applied once on import (mmaction2 1.2.0's missing
DRN module, see ``docs/get_started.md``; the safe checkpoint loader)."""
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
    """Insert a placeholder ``mmaction.models.localizers.drn`` if needed."""
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
