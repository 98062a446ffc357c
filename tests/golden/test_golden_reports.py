"""The JSON reports of the generated files, from `check` and a production `submit`, are the ones
the code before the refactoring of issue 14 gave (captured by `capture.py`, see README.md).

Normalised on both sides before comparing, and nothing else:

- `pseudonymisation.method` and every `pseudonymisation.*_key` (the stage-1 and stage-2 key
  fingerprints): issue 14 item 7 changes the method label and the stage-1 key on purpose.
- Keys named in VOLATILE_KEYS, wherever they occur (timestamps, upload ids, durations): the
  captured reports hold none, but a report that gains one must not fail on its value.
"""

from __future__ import annotations

import copy
import difflib
import hashlib
import json
from pathlib import Path
from typing import Any

import pytest

from tests.golden.cases import (
    CASES,
    GOLDEN_CODES,
    MANIFEST,
    Case,
    Outcome,
    dump,
    report_path,
    run_all,
)

pytestmark = pytest.mark.slow

#: The generated file and what the command gave, by (case name, "check" or "submit").
Run = tuple[Path, Outcome]

VOLATILE_KEYS = frozenset(
    {
        "created_at",
        "submitted_at",
        "started_at",
        "finished_at",
        "upload_id",
        "duration_seconds",
    }
)
_NORMALISED = "<genormaliseerd>"


def normalise(report: dict[str, Any]) -> dict[str, Any]:
    document = _without_volatile(copy.deepcopy(report))
    pseudonymisation = document.get("pseudonymisation")
    if isinstance(pseudonymisation, dict):
        for key in pseudonymisation:
            if key == "method" or key.endswith("_key"):
                pseudonymisation[key] = _NORMALISED
    return document


def _without_volatile(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _without_volatile(v) for k, v in value.items() if k not in VOLATILE_KEYS}
    if isinstance(value, list):
        return [_without_volatile(item) for item in value]
    return value


@pytest.fixture(scope="module")
def outcomes(tmp_path_factory: pytest.TempPathFactory) -> dict[tuple[str, str], Run]:
    home = tmp_path_factory.mktemp("golden")
    return {(case.name, kind): (file, outcome) for case, kind, file, outcome in run_all(home)}


def _manifest() -> dict[str, Any]:
    document: dict[str, Any] = json.loads(MANIFEST.read_text(encoding="utf-8"))
    return document


def _diff(expected: str, actual: str, name: str) -> str:
    lines = difflib.unified_diff(
        expected.splitlines(keepends=True),
        actual.splitlines(keepends=True),
        fromfile=f"golden/{name}",
        tofile=f"nu/{name}",
        n=3,
    )
    return "".join(lines)


@pytest.mark.parametrize("kind", ["check", "submit"])
@pytest.mark.parametrize("case", CASES, ids=lambda case: case.name)
def test_report_matches_golden(
    case: Case,
    kind: str,
    outcomes: dict[tuple[str, str], Run],
) -> None:
    file, outcome = outcomes[(case.name, kind)]
    recorded = _manifest()["cases"][case.name]
    sha256 = hashlib.sha256(file.read_bytes()).hexdigest()
    assert sha256 == recorded["input_sha256"], (
        f"the generator no longer makes the golden input {case.file_name}: compare "
        "`zorgbroker generate` with the code the reports were captured from"
    )
    assert outcome.report is not None, f"{kind} wrote no JSON report:\n{outcome.stderr}"
    assert outcome.exit_status == recorded[f"{kind}_exit_status"], outcome.stderr

    golden_path = report_path(case, kind)
    golden = json.loads(golden_path.read_text(encoding="utf-8"))
    expected = dump(normalise(golden))
    actual = dump(normalise(outcome.report))
    if expected != actual:
        pytest.fail(
            f"{kind} report of {case.file_name} differs from {golden_path.name} "
            f"(after normalising; see the module docstring):\n"
            + _diff(expected, actual, golden_path.name),
            pytrace=False,
        )


def test_cases_cover_every_seeded_fault() -> None:
    """The golden files raise every message the generator can seed, per dataset."""
    found: dict[str, set[str]] = {dataset: set() for dataset in GOLDEN_CODES}
    for case in CASES:
        report = json.loads(report_path(case, "check").read_text(encoding="utf-8"))
        found[case.dataset] |= set(report["summary"]["by_code"])
    for dataset, codes in GOLDEN_CODES.items():
        assert codes <= found[dataset], f"{dataset} misses {sorted(codes - found[dataset])}"


def test_normalise_keeps_everything_but_the_listed_fields() -> None:
    report = {
        "file": {"name": "a.csv", "sha256": "abc", "bytes": 3},
        "pseudonymisation": {"method": "zb1", "source_key": "f1", "registry": "nhr"},
        "summary": {"records": 2, "created_at": "2026-06-01T12:00:00"},
    }
    assert normalise(report) == {
        "file": {"name": "a.csv", "sha256": "abc", "bytes": 3},
        "pseudonymisation": {"method": _NORMALISED, "source_key": _NORMALISED, "registry": "nhr"},
        "summary": {"records": 2},
    }
