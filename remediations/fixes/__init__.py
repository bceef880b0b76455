"""The fix catalogue: every module of this package is one fix, found by scanning the package.

Adding a fix is adding a file: nothing here names the fixes.  Modules whose names start with ``_``
(shared readings of the facts), ``base`` (the contract) and ``driver`` (the protocol) are not fixes.
"""

import importlib
import pkgutil

from remediations.fixes.base import REGISTRY, Fix

_NOT_FIXES = frozenset({"base", "driver"})

for _module in pkgutil.iter_modules(__path__):
    if not _module.name.startswith("_") and _module.name not in _NOT_FIXES:
        importlib.import_module(f"{__name__}.{_module.name}")

__all__ = ["REGISTRY", "Fix"]
