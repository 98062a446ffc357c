"""generate() refuses what it cannot make, with a Dutch explanation."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from tests.intake.generate.conftest import read_csv
from zorgbroker.intake.generate import DATASETS, generate
from zorgbroker.intake.generate.numbers import BSN_CAPACITY


@pytest.mark.parametrize(
    ("options", "words"),
    [
        ({"rows": 0}, "--rows"),
        ({"rows": BSN_CAPACITY + 1}, "--rows"),
        ({"rows": 5, "error_rate": -0.1}, "--error-rate"),
        ({"rows": 5, "error_rate": float("nan")}, "--error-rate"),
        ({"rows": 5, "seed": -3}, "--seed"),
        ({"rows": 5, "organisation": "1234567"}, "AGB-code"),
    ],
)
def test_arguments_it_cannot_use_raise_a_dutch_value_error(
    tmp_path: Path, options: dict[str, object], words: str
) -> None:
    with pytest.raises(ValueError, match=words):
        generate("nhr-pmicd", out=tmp_path / "x.csv", **options)  # type: ignore[arg-type]
    assert not (tmp_path / "x.csv").exists()


def test_unknown_dataset_names_the_known_ones(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="nhr-pmicd, nivel-fysio, parabench-mi"):
        generate("nhr", rows=3, out=tmp_path / "x.csv")


def test_without_a_date_today_is_the_real_date(tmp_path: Path) -> None:
    before = dt.date.today()
    generated = generate("nhr-pmicd", rows=100, out=tmp_path / "x.csv")
    days = read_csv(generated.path)["procedure_datum"].str.to_date("%Y-%m-%d")
    assert days.max() < dt.date.today()  # type: ignore[operator]
    assert days.min() >= before - dt.timedelta(days=27)  # type: ignore[operator]


def test_the_three_datasets_are_known() -> None:
    assert DATASETS == {"nhr-pmicd": ".csv", "nivel-fysio": ".zip", "parabench-mi": ".csv"}
