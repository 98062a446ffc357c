"""The accepted records as the registry may keep them: no BSN, name or full birth date."""

from __future__ import annotations

from pathlib import Path

import polars as pl

from tests.intake.conftest import TODAY
from zorgbroker.intake.api import ROW, CheckOptions, check_upload, generate, load_dataset

SPEC = load_dataset("nhr-pmicd")


def accepted(tmp_path: Path, options: CheckOptions) -> pl.DataFrame:
    path = tmp_path / "nhr.csv"
    generate("nhr-pmicd", rows=20, out=path, today=TODAY, organisation="01234567")
    (frame,) = check_upload(path, SPEC, options).accepted.values()
    return frame


def test_identifying_fields_are_reduced_and_derived_values_added(tmp_path: Path) -> None:
    seen: list[tuple[str, str]] = []

    def pseudonymise(table: str, field: str, values: pl.Series) -> pl.Series:
        seen.append((table, field))
        return pl.Series(["P"] * values.len())

    frame = accepted(
        tmp_path, CheckOptions(today=TODAY, collect_accepted=True, pseudonymise=pseudonymise)
    )
    assert frame.height == 20
    assert seen == [("main", "bsn")]
    assert frame["bsn"].unique().to_list() == ["P"]
    assert "achternaam" not in frame.columns
    assert frame.schema["geboortedatum"] == pl.Int32  # the year only
    assert {ROW, "leeftijd", "identiteit_serienummer"} <= set(frame.columns)
    assert not [c for c in frame.columns if c.startswith("__text__")]


def test_without_a_pseudonymiser_an_identifier_is_not_kept(tmp_path: Path) -> None:
    frame = accepted(tmp_path, CheckOptions(today=TODAY, collect_accepted=True))
    assert "bsn" not in frame.columns
    assert "achternaam" not in frame.columns
