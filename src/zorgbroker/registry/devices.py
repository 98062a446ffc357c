"""Implant traceability: who carries a device model or a serial number now (the registry's half
of a recall; the trusted third party turns the pseudonyms back into patients).

Which datasets carry devices, and in which fields, is read from their `serial_held_by_other`
comparisons (`serials`, `model`, `centre`, `subject`, `date`, `ends_registration`), so the same
rules decide who holds a serial here and in the import's TF checks. Every lookup is written to the
NEN 7513 access log: one entry per person found, or one for a lookup that found no one.
"""

from __future__ import annotations

import datetime as dt

import polars as pl
from sqlalchemy import Connection, Engine, insert

from zorgbroker.intake.api import available, compile_condition
from zorgbroker.registry.comparisons import Comparison, Lookup
from zorgbroker.registry.comparisons.serial_held_by_other import SerialHeldByOther, current_holders
from zorgbroker.registry.database import write_transaction
from zorgbroker.registry.device_query import DeviceQuery
from zorgbroker.registry.importer import fetch_rows
from zorgbroker.registry.layout import DatasetLayout, layout_for
from zorgbroker.registry.models import AccessLogEntry, utcnow

ACTION = "implantaat-opvraging"

CARRIER_SCHEMA: dict[str, pl.DataType] = {
    "dataset": pl.String(),
    "pseudonym": pl.String(),
    "centre": pl.String(),
    "serial": pl.String(),
    "field": pl.String(),
    "model": pl.String(),
    "since": pl.Date(),
}


def _device_comparisons(layout: DatasetLayout) -> list[Comparison]:
    return [c for c in layout.comparisons if c.kind == SerialHeldByOther.name]


def _serials_of_model(
    conn: Connection, layout: DatasetLayout, c: Comparison, udi_di: str
) -> list[str]:
    model = c.text("model")
    rows = fetch_rows(conn, layout.main, Lookup((model,), pl.DataFrame({model: [udi_di]})))
    return (
        pl.concat([rows.select(pl.col(s).alias("s")) for s in c.texts("serials")])
        .drop_nulls()
        .unique()["s"]
        .to_list()
    )


def _carriers(
    conn: Connection, layout: DatasetLayout, c: Comparison, serials: list[str]
) -> pl.DataFrame:
    if not serials:
        return pl.DataFrame(schema=CARRIER_SCHEMA)
    main = layout.main
    ending = compile_condition(
        c.text("ends_registration"), main.columns, today=dt.date.today(), organisation=None
    )
    found = []
    for s in c.texts("serials"):
        rows = fetch_rows(conn, main, Lookup((s,), pl.DataFrame({s: serials})))
        found.append(
            rows.select(
                pl.col(s).alias("__serial"),
                pl.col(c.text("subject")).alias("__subject"),
                pl.col(c.text("date")).alias("__date"),
                pl.col("_id").alias("__order"),
                ending.alias("__ending"),
                pl.lit(s).alias("__field"),
                (
                    pl.col(c.text("centre")) if "centre" in c.params else pl.lit(None, pl.String)
                ).alias("__centre"),
                (pl.col(c.text("model")) if "model" in c.params else pl.lit(None, pl.String)).alias(
                    "__model"
                ),
            )
        )
    holders = current_holders(pl.concat(found), keep=["__field", "__centre", "__model"])
    return holders.select(
        pl.lit(layout.spec.dataset).alias("dataset"),
        pl.col("__holder").alias("pseudonym"),
        pl.col("__centre").alias("centre"),
        pl.col("__serial").alias("serial"),
        pl.col("__field").alias("field"),
        pl.col("__model").alias("model"),
        pl.col("__date").alias("since"),
    )


def find_carriers(
    engine: Engine, query: DeviceQuery, *, actor: str, on_behalf_of: str
) -> pl.DataFrame:
    """Pseudonyms and centres that carry the device now (explanted ones excluded), logged."""
    results: list[pl.DataFrame] = []
    datasets = []
    with write_transaction(engine) as conn:
        for entry in available():
            layout = layout_for(entry.name)
            for c in _device_comparisons(layout):
                if query.udi_di is not None:
                    if "model" not in c.params:
                        continue
                    serials = _serials_of_model(conn, layout, c, query.udi_di)
                    if query.serial is not None:
                        serials = [s for s in serials if s == query.serial]
                else:
                    serials = [query.serial] if query.serial else []
                found = _carriers(conn, layout, c, serials)
                results.append(found)
                datasets.append(layout.spec.dataset)
        carriers = (
            pl.concat(results).unique().sort("dataset", "serial", "pseudonym")
            if results
            else pl.DataFrame(schema=CARRIER_SCHEMA)
        )
        _log_access(
            conn,
            carriers,
            query,
            actor=actor,
            on_behalf_of=on_behalf_of,
            datasets=sorted(set(datasets)),
        )
    return carriers


def _log_access(
    conn: Connection,
    carriers: pl.DataFrame,
    query: DeviceQuery,
    *,
    actor: str,
    on_behalf_of: str,
    datasets: list[str],
) -> None:
    now = utcnow()
    entries = [
        {
            "at": now,
            "actor": actor,
            "on_behalf_of": on_behalf_of,
            "action": ACTION,
            "dataset": dataset,
            "subject": subject,
            "upload_id": None,
            "detail": query.describe(),
        }
        for dataset, subject in carriers.select("dataset", "pseudonym").unique().rows()
    ]
    if not entries:
        entries = [
            {
                "at": now,
                "actor": actor,
                "on_behalf_of": on_behalf_of,
                "action": ACTION,
                "dataset": ",".join(datasets) or None,
                "subject": None,
                "upload_id": None,
                "detail": query.describe(),
            }
        ]
    conn.execute(insert(AccessLogEntry), entries)
