"""Comparison kinds are a registry of small classes: a new kind is one new class (one module in
`zorgbroker.registry.comparisons`), and the layout and the comparison find it by name."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import ClassVar

import polars as pl
import pytest

from tests.registry.conftest import Registry
from tests.registry.test_declarative_storage import MINI_SPEC, _submit
from zorgbroker.intake.spec import load_dataset
from zorgbroker.registry.comparisons import Comparison, ComparisonKind, Index, Scope, kinds
from zorgbroker.registry.comparisons.base import messages
from zorgbroker.registry.layout import layout_for


def test_the_shipped_kinds_are_found_in_their_modules() -> None:
    assert set(kinds()) == {
        "serial_held_by_other",
        "same_subject_same_date_other_content",
        "requires_earlier",
        "identity_with_other_subject",
        "replaces_upload",
    }
    for module in Path(__file__).parents[2].glob("src/zorgbroker/registry/comparisons/*.py"):
        if module.stem not in ("__init__", "base"):
            assert module.stem in kinds()  # one module per kind, named after it


@pytest.fixture
def new_kind(
    registry: Registry, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Registry]:
    """The mini registry of `test_declarative_storage`, with a comparison of a kind that only
    this test defines."""
    folder = tmp_path / "datasets" / "mini-register"
    folder.mkdir(parents=True)
    text = MINI_SPEC.replace(
        "comparisons:\n",
        "comparisons:\n  - code: TW-902\n    kind: test_score_above\n    field: score\n"
        "    params: {score: score, limit: 6}\n",
    ).replace("messages:\n", 'messages:\n  TW-902: {nl: "Hoge score", en: "High score"}\n')
    (folder / "spec.yaml").write_text(text, encoding="utf-8")
    monkeypatch.setenv("ZORGBROKER_DATASETS", str(folder.parent))

    class _ScoreAbove(ComparisonKind):
        """A kind only this test knows: warns about every changed record whose score is above a
        limit, looking up held records by score (so it needs an index on it)."""

        name = "test_score_above"
        required: ClassVar[tuple[str, ...]] = ("score", "limit")
        column_params: ClassVar[frozenset[str]] = frozenset({"score"})

        def indexes(self, c: Comparison) -> list[Index]:
            return [Index((c.text("score"),))]

        def check(self, c: Comparison, scope: Scope) -> pl.DataFrame:
            limit = c.params["limit"]
            flagged = scope.candidates.filter(pl.col(c.text("score")) > limit)
            return messages(flagged, c.code, c.field, pl.col("score"), scope.table_key)

    layout_for.cache_clear()
    yield registry
    # The next test's mini registry is read afresh, without this kind.
    load_dataset.cache_clear()
    layout_for.cache_clear()
    del ComparisonKind.registered[_ScoreAbove.name]


def test_a_new_kind_is_one_class_and_the_layout_and_comparison_use_it(new_kind: Registry) -> None:
    layout = layout_for("mini-register")
    assert ("score",) in [i.columns for i in layout.main.indexes]

    report = _submit(new_kind, ["111222333;2026-11-01;A;5", "123456782;2026-11-01;A;7"])

    rows = report.messages.select("record", "field", "code", "value").rows()  # type: ignore[attr-defined]
    assert rows == [(2, "score", "TW-902", "7")]
