"""The kinds of comparison with held data, one module each (see `base`): a new kind is a new
module here, found and registered when this package is imported."""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Mapping

from zorgbroker.registry.comparisons.base import (
    Comparison,
    ComparisonKind,
    Conditions,
    Held,
    Index,
    LayoutError,
    Lookup,
    Scope,
    Wanted,
    empty_messages,
)

for _module in pkgutil.iter_modules(__path__):
    if _module.name != "base":
        importlib.import_module(f"{__name__}.{_module.name}")


def kind_of(c: Comparison) -> ComparisonKind:
    """The kind of a comparison; a LayoutError names an unknown one."""
    found = ComparisonKind.registered.get(c.kind)
    if found is None:
        raise LayoutError(f"unknown comparison kind {c.kind!r} ({c.code})")
    return found


def kinds() -> Mapping[str, ComparisonKind]:
    """Every kind by name."""
    return ComparisonKind.registered


__all__ = [
    "Comparison",
    "ComparisonKind",
    "Conditions",
    "Held",
    "Index",
    "LayoutError",
    "Lookup",
    "Scope",
    "Wanted",
    "empty_messages",
    "kind_of",
    "kinds",
]
