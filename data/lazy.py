"""A package's names loaded from its modules on first use (PEP 562).

``data.importing`` and ``data.duplicates`` export names of modules that not every user
needs (a validation worker needs neither SQLAlchemy nor NumPy): each sets
``__getattr__ = lazy_names(__name__, HOMES)``, ``HOMES`` naming the module of each name.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable, Mapping
from typing import Any


def lazy_names(package: str, homes: Mapping[str, str]) -> Callable[[str], Any]:
    """The module ``__getattr__`` of ``package``: ``name`` from ``package.homes[name]``,
    kept in the package once loaded."""

    def __getattr__(name: str) -> Any:
        home = homes.get(name)
        if home is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(f"{package}.{home}"), name)
        setattr(sys.modules[package], name, value)
        return value

    return __getattr__
