"""The message collector: message frames in report order, each code with its class and Dutch
text."""

from __future__ import annotations

import polars as pl

from zorgbroker.intake.report.model import MESSAGE_SCHEMA, empty_messages
from zorgbroker.intake.spec.model import DatasetSpec


class Messages:
    """Collects message frames in report order and turns codes into their Dutch texts."""

    def __init__(self, spec: DatasetSpec) -> None:
        self.spec = spec
        self.file_level: list[pl.DataFrame] = []
        self.tables: dict[str, list[pl.DataFrame]] = {}

    def file(
        self,
        code: str,
        *,
        table: str | None = None,
        field: str | None = None,
        value: str | None = None,
        text: str | None = None,
    ) -> None:
        """`text` replaces the code's text: a reader's explanation of what is wrong."""
        frame = message_frame([(table, None, field, code, value)], self.spec)
        if text is not None:
            frame = frame.with_columns(pl.lit(text, dtype=pl.String).alias("message"))
        self.file_level.append(frame)

    def add_table(self, table: str, frame: pl.DataFrame) -> None:
        if frame.height:
            self.tables.setdefault(table, []).append(frame)

    def has_file_rejection(self) -> bool:
        return any(f["class"].eq("BF").any() for f in self.file_level)

    def frame(self, table_order: list[str]) -> pl.DataFrame:
        parts = list(self.file_level)
        for name in table_order:
            parts.extend(self.tables.get(name, []))
        if not parts:
            return empty_messages()
        return pl.concat(parts, how="vertical")


def message_frame(
    rows: list[tuple[str | None, int | None, str | None, str, str | None]], spec: DatasetSpec
) -> pl.DataFrame:
    frame = pl.DataFrame(
        {
            "table": [r[0] for r in rows],
            "record": [r[1] for r in rows],
            "field": [r[2] for r in rows],
            "code": [r[3] for r in rows],
            "value": [r[4] for r in rows],
        },
        schema={k: MESSAGE_SCHEMA[k] for k in ("table", "record", "field", "code", "value")},
    )
    return with_texts(frame, spec)


def with_texts(frame: pl.DataFrame, spec: DatasetSpec) -> pl.DataFrame:
    """Add class and Dutch text to (table, record, field, code, value) rows, in contract order."""
    texts = {code: m.nl for code, m in spec.messages.items()}
    return frame.with_columns(
        pl.col("code").str.extract(r"^([A-Z]+)-", 1).alias("class"),
        pl.col("code").replace_strict(texts, default="", return_dtype=pl.String).alias("message"),
    ).select(list(MESSAGE_SCHEMA))
