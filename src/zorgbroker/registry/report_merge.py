"""The comparison's TF/TW messages folded into the quality report, in record order."""

from __future__ import annotations

import dataclasses

import polars as pl

from zorgbroker.intake.api import MESSAGE_SCHEMA, DatasetSpec, Report, Stored


def merge(
    report: Report, spec: DatasetSpec, messages: pl.DataFrame, rejected: int, stored: Stored
) -> Report:
    """The report with `messages` (table, record, field, code, value) added after the checks'
    messages of the same record, `rejected` more records rejected, and the registry's result
    (`stored`, with the fingerprints the report has) added."""
    texts = {code: spec.text(code) for code in messages["code"].unique().to_list()}
    added = messages.with_columns(
        pl.col("code").str.extract(r"^([A-Z]+)-", 1).alias("class"),
        pl.col("code").replace_strict(texts, default="", return_dtype=pl.String).alias("message"),
    ).select([pl.col(c).cast(t) for c, t in MESSAGE_SCHEMA.items()])
    order = {t.name: i for i, t in enumerate(spec.tables)}
    table_rank = pl.col("table").replace_strict(order, default=0, return_dtype=pl.Int32)
    combined = pl.concat(
        [
            report.messages.with_columns(pl.lit(0, dtype=pl.Int8).alias("__source")),
            added.with_columns(pl.lit(1, dtype=pl.Int8).alias("__source")),
        ]
    ).with_row_index("__position")
    file_level = pl.col("record").is_null()
    ordered = combined.sort(
        file_level.not_(),
        pl.when(file_level).then(0).otherwise(table_rank),
        pl.col("record").fill_null(0),
        "__source",
        "__position",
    ).drop("__position", "__source")
    code_texts = {**report.code_texts, **texts}
    compared = dataclasses.replace(
        report,
        messages=ordered,
        rejected=report.rejected + rejected,
        code_texts=dict(sorted(code_texts.items())),
    )
    return compared.with_registry_result(fingerprints=report.pseudonymisation, stored=stored)
