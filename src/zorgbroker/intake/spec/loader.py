"""Finds and loads dataset specifications, and proves every rule in them compiles.

Specifications ship in `zorgbroker/intake/datasets/<name>/spec.yaml` with code lists in
`codes/<list>.csv` (`code;omschrijving`). An installation can add its own in the folders named by
`ZORGBROKER_DATASETS` (separated by the path separator), laid out the same way.
"""

from __future__ import annotations

import csv
import os
import weakref
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml
from pydantic import ValidationError

from zorgbroker.intake.spec.model import DatasetSpec

if TYPE_CHECKING:
    from zorgbroker.intake.checks.plan import TablePlan

SHIPPED = Path(__file__).resolve().parent.parent / "datasets"

# LibYAML's loader reads a specification about ten times faster than the pure-Python one, and
# every run reads one; PyYAML built without LibYAML still works, only slower.
try:
    from yaml import CSafeLoader as _YamlLoader
except ImportError:  # pragma: no cover - PyYAML's wheels include LibYAML
    from yaml import SafeLoader as _YamlLoader  # type: ignore[assignment]


class SpecError(Exception):
    """A specification that cannot be used: a message for the person who wrote it."""


@dataclass(frozen=True)
class DatasetEntry:
    name: str
    version: str
    title: str
    folder: Path


def search_path() -> list[Path]:
    extra = os.environ.get("ZORGBROKER_DATASETS", "")
    return [Path(p) for p in extra.split(os.pathsep) if p] + [SHIPPED]


def _folders() -> dict[str, Path]:
    found: dict[str, Path] = {}
    for root in reversed(search_path()):  # earlier entries win
        if not root.is_dir():
            continue
        for spec in sorted(root.glob("*/spec.yaml")):
            found[spec.parent.name] = spec.parent
    return found


def available() -> list[DatasetEntry]:
    entries = []
    for name, folder in sorted(_folders().items()):
        spec = load_dataset(name)
        entries.append(DatasetEntry(name, spec.version, spec.title, folder))
    return entries


def _read_yaml(path: Path) -> dict[str, Any]:
    try:
        data = yaml.load(path.read_text(encoding="utf-8"), Loader=_YamlLoader)
    except yaml.YAMLError as exc:
        raise SpecError(f"{path}: not valid YAML: {exc}") from None
    if not isinstance(data, dict):
        raise SpecError(f"{path}: expected a mapping at the top")
    return data


def _read_code_list(path: Path) -> dict[str, str]:
    with path.open(encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle, delimiter=";"))
    if not rows or "code" not in rows[0]:
        raise SpecError(f"{path}: a code list needs a header 'code;omschrijving' and rows")
    return {row["code"].strip(): (row.get("omschrijving") or "").strip() for row in rows}


def _generic_messages() -> dict[str, Any]:
    return _read_yaml(SHIPPED / "generic.yaml")["messages"]  # type: ignore[no-any-return]


def load_path(folder: Path) -> DatasetSpec:
    """Load one specification folder (spec.yaml + codes/), validated and with rules compiled."""
    data = _read_yaml(folder / "spec.yaml")
    data["messages"] = {**_generic_messages(), **(data.get("messages") or {})}
    lists: dict[str, dict[str, str]] = {}
    codes_dir = folder / "codes"
    if codes_dir.is_dir():
        for path in sorted(codes_dir.glob("*.csv")):
            lists[path.stem] = _read_code_list(path)
    data["code_lists"] = lists
    try:
        spec = DatasetSpec.model_validate(data)
    except ValidationError as exc:
        raise SpecError(f"{folder / 'spec.yaml'}: {exc}") from None
    for table in spec.tables:
        for f in table.fields:
            if isinstance(f.codes, str) and f.codes not in lists:
                raise SpecError(
                    f"{folder}: {table.name}.{f.name} names code list {f.codes!r}, "
                    f"but codes/{f.codes}.csv does not exist"
                )
    # Compiling every rule once here means a broken specification fails at load, never mid-upload.
    try:
        check_plans(spec)
    except ValueError as exc:
        raise SpecError(f"{folder / 'spec.yaml'}: {exc}") from None
    return spec


#: Check plans by id(spec), with a weak reference that drops the entry when the spec goes. A spec
#: is frozen, so its plans stay valid; it is not hashable (its lists and dicts), hence the id.
_PLANS: dict[int, tuple[weakref.ref[DatasetSpec], dict[str, TablePlan]]] = {}


def check_plans(spec: DatasetSpec) -> dict[str, TablePlan]:
    """The specification's check plans, compiled once per spec object.

    Loading compiles them to prove the rules, and the engine needs the same plans for every upload
    it checks; compiling them again would cost a run as much as checking a small file. Every
    caller gets the same plans, so none may change them.
    """
    key = id(spec)
    entry = _PLANS.get(key)
    if entry is not None and entry[0]() is spec:
        return entry[1]
    from zorgbroker.intake.checks.plan import build_plans

    plans = build_plans(spec)

    def forget(ref: weakref.ref[DatasetSpec]) -> None:
        current = _PLANS.get(key)
        if current is not None and current[0] is ref:
            del _PLANS[key]

    _PLANS[key] = (weakref.ref(spec, forget), plans)
    return plans


@cache
def load_dataset(name: str) -> DatasetSpec:
    folders = _folders()
    if name not in folders:
        known = ", ".join(sorted(folders)) or "geen"
        raise SpecError(f"Onbekende dataset '{name}'. Bekende datasets: {known}")
    return load_path(folders[name])
