"""What a generator run hands back: where the file is and which messages it must raise."""

from __future__ import annotations

import datetime
import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

import polars as pl

#: Schema of the frames the dataset modules collect injected faults in.
EXPECTED_SCHEMA: dict[str, pl.DataType] = {
    "table": pl.String(),
    "record": pl.Int64(),
    "field": pl.String(),
    "code": pl.String(),
}


@dataclass(frozen=True)
class Expected:
    """One message the check engine must raise on the generated file.

    `table` is None for single-table datasets; `record` is the 1-based data-row number within
    that table, exactly as the quality report numbers records.
    """

    table: str | None
    record: int
    field: str | None
    code: str


@dataclass
class Generated:
    path: Path
    #: Records in the dataset's main table (nhr-pmicd rows, nivel-fysio episodes, parabench-mi
    #: quarters).
    rows: int
    #: AGB code of the uploading organisation the file was made for.
    organisation: str
    expected: list[Expected] = field(default_factory=list)


def empty_expected() -> pl.DataFrame:
    return pl.DataFrame(schema=EXPECTED_SCHEMA)


def expected_from_frames(
    frames: list[pl.DataFrame], table_order: tuple[str, ...]
) -> list[Expected]:
    """Turn the collected fault frames into the sorted `Expected` list.

    Sorted by table (in the dataset's table order), record, field and code, so two runs with the
    same seed give identical lists whatever the chunking.
    """
    if not frames:
        return []
    rank = {name: i for i, name in enumerate(table_order)}
    frame = pl.concat(frames, how="vertical").with_columns(
        pl.col("table").replace_strict(rank, default=-1, return_dtype=pl.Int64).alias("_rank")
    )
    frame = frame.sort(["_rank", "record", "field", "code"], nulls_last=False)
    return [
        Expected(table=table, record=record, field=field_name, code=code)
        for table, record, field_name, code in frame.select(
            "table", "record", "field", "code"
        ).iter_rows()
    ]


def expected_path(out: Path) -> Path:
    """`<out>.expected.json`, beside the generated file."""
    return out.with_name(out.name + ".expected.json")


def write_expected(
    generated: Generated,
    *,
    dataset: str,
    seed: int,
    error_rate: float,
    today: datetime.date,
) -> Path:
    target = expected_path(generated.path)
    document = {
        "dataset": dataset,
        "file": generated.path.name,
        "rows": generated.rows,
        "organisation": generated.organisation,
        "seed": seed,
        "error_rate": error_rate,
        "today": today.isoformat(),
        "expected": [asdict(item) for item in generated.expected],
    }
    target.write_text(json.dumps(document, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    return target
