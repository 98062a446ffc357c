"""The storage follows the specifications: a new registry is a YAML file, a newer version's extra
field becomes a column, and the indexes are those the comparisons look up."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import polars as pl
import pytest
from sqlalchemy import inspect, text

from tests.registry.conftest import Registry, nhr_row
from zorgbroker.composition import open_registry
from zorgbroker.intake.report.model import Stored
from zorgbroker.intake.spec import FieldSpec, load_dataset
from zorgbroker.registry import bulk, data_tables
from zorgbroker.registry.layout import build_layout, layout_for
from zorgbroker.registry.registry_db import up_to_date

MINI_SPEC = """
dataset: mini-register
version: "2026.1"
title: Een registratie die alleen als YAML bestaat
registry: mini
tables:
  - name: main
    main: true
    identity: [bsn, datum, soort]
    fields:
      - {name: bsn, required: true, normalise: bsn, pattern: '^\\d{9}$', identifying: pseudonymise}
      - {name: datum, type: date, required: true}
      - {name: soort, required: true}
      - {name: score, type: integer, required: true}
comparisons:
  - code: TW-901
    kind: same_subject_same_date_other_content
    field: datum
    params: {subject: bsn, date: datum}
update: {identical: unchanged, changed: replace_record}
messages:
  TW-901: {nl: "Zelfde persoon, zelfde dag, andere meting", en: "Same person, same day"}
"""


@pytest.fixture
def mini_registry(registry: Registry, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Registry:
    folder = tmp_path / "datasets" / "mini-register"
    folder.mkdir(parents=True)
    (folder / "spec.yaml").write_text(MINI_SPEC, encoding="utf-8")
    monkeypatch.setenv("ZORGBROKER_DATASETS", str(folder.parent))
    return registry


def _submit(registry: Registry, rows: list[str]) -> object:
    path = registry.folder / f"mini-{len(rows)}-{rows[0][:3]}.csv"
    path.write_text("bsn;datum;soort;score\n" + "\n".join(rows) + "\n", encoding="utf-8")
    return registry.submit_file(path, dataset="mini-register")


def test_a_registry_that_is_only_a_yaml_file_stores_and_compares(mini_registry: Registry):
    first = _submit(mini_registry, ["111222333;2026-11-01;A;5", "123456782;2026-11-01;A;7"])
    again = _submit(mini_registry, ["111222333;2026-11-01;A;6", "111222333;2026-11-01;B;1"])

    assert first.stored == Stored(new=2)  # type: ignore[attr-defined]
    assert again.stored == Stored(new=1, updated=1)  # type: ignore[attr-defined]
    rows = again.messages.select("record", "field", "code").rows()  # type: ignore[attr-defined]
    assert rows == [(2, "datum", "TW-901")]
    held = mini_registry.held("mini-register")
    assert sorted(held["score"].to_list()) == [1, 6, 7]
    assert held["bsn"].str.starts_with("zb2:mini:").all()


def test_a_field_a_newer_version_adds_becomes_a_column(registry: Registry):
    spec = load_dataset("parabench-mi")
    main = spec.main_table
    extra = FieldSpec(name="wachttijd_dagen", type="integer")
    newer = spec.model_copy(update={
        "version": "2027.1",
        "tables": [main.model_copy(update={"fields": [*main.fields, extra]})],
    })  # fmt: skip
    engine = open_registry(registry.settings)
    layout = build_layout(newer).main

    with engine.begin() as conn:
        data_tables.sync(conn, layout)
        columns = {c["name"]: c for c in inspect(conn).get_columns(layout.sql_name)}

    assert "wachttijd_dagen" in columns
    assert "omzet_eur" in columns  # the columns of the older version stay
    data_tables.table_for(layout_for("parabench-mi").main)  # back to the shipped shape


def test_indexes_are_what_the_comparisons_look_up(registry: Registry):
    engine = open_registry(registry.settings)
    layout = layout_for("nhr-pmicd").main
    with engine.connect() as conn:
        indexed = {tuple(ix["column_names"]) for ix in inspect(conn).get_indexes(layout.sql_name)}
    # TW-301, TW-302 and the identity (within a patient)
    assert indexed == {("bsn", "procedure_datum")}


def test_serials_of_all_device_columns_share_one_indexed_table(registry: Registry):
    layout = layout_for("nhr-pmicd").main
    assert layout.values is not None
    # TF-301, TF-302 and the recall look a serial up in all of them
    assert layout.values.columns == (
        "serienummer", "lead1_serienummer", "lead2_serienummer", "lead3_serienummer",
        "lead4_serienummer",
    )  # fmt: skip
    registry.submit([nhr_row()])
    engine = open_registry(registry.settings)
    with engine.connect() as conn:
        key = inspect(conn).get_pk_constraint(layout.values.sql_name)["constrained_columns"]
        stored = bulk.read_frame(
            conn,
            f"SELECT value, _id FROM {layout.values.sql_name} ORDER BY value",
            {"value": pl.String(), "_id": pl.Int64()},
        )
    assert key == ["value", "_id"]
    assert stored["value"].to_list() == ["ABC12345", "L1234", "L5678"]
    assert stored["_id"].to_list() == registry.held()["_id"].to_list() * 3


def test_a_registry_with_per_column_serial_indexes_is_brought_to_the_serial_table(
    registry: Registry,
):
    layout = layout_for("nhr-pmicd").main
    assert layout.values is not None
    registry.submit([nhr_row()])
    engine = open_registry(registry.settings)
    old_index = f"ix_{layout.sql_name}_lead1_serienummer"
    with engine.begin() as conn:  # the shape before the serial table
        conn.execute(text(f"DROP TABLE {layout.values.sql_name}"))
        conn.execute(text(f"CREATE INDEX {old_index} ON {layout.sql_name} (lead1_serienummer)"))

    with engine.begin() as conn:
        assert not up_to_date(conn)
        data_tables.sync(conn, layout)
        assert up_to_date(conn)
        indexes = {ix["name"] for ix in inspect(conn).get_indexes(layout.sql_name)}
        count = conn.execute(text(f"SELECT COUNT(*) FROM {layout.values.sql_name}")).scalar()

    assert old_index not in indexes
    assert count == 3  # the held record's generator and two leads
    report = registry.submit([nhr_row(bsn="123456782")])  # the same devices, another patient
    assert report.messages["code"].to_list() == ["TF-301", "TF-302", "TF-302"]


def test_the_serial_table_follows_an_updated_record(registry: Registry):
    layout = layout_for("nhr-pmicd").main
    assert layout.values is not None
    registry.submit([nhr_row()])

    report = registry.submit([nhr_row(lead2_serienummer="L9999")])

    assert report.stored == Stored(updated=1)
    engine = open_registry(registry.settings)
    with engine.connect() as conn:
        stored = bulk.read_frame(
            conn,
            f"SELECT value, _id FROM {layout.values.sql_name} ORDER BY value",
            {"value": pl.String(), "_id": pl.Int64()},
        )
    held = registry.held()
    assert stored["value"].to_list() == ["ABC12345", "L1234", "L9999"]
    assert set(stored["_id"]) == set(held["_id"])


def test_serial_rows_come_in_value_order_once_per_record():
    from zorgbroker.registry.importer import value_rows

    layout = layout_for("nhr-pmicd").main
    empty = pl.Series([None, None, None], dtype=pl.String)
    rows = pl.DataFrame({
        "_id": [2, 1, 3], "serienummer": ["B", "A", None], "lead1_serienummer": ["B", "X", None],
        "lead2_serienummer": [None, "A", "C"], "lead3_serienummer": empty,
        "lead4_serienummer": empty,
    })  # fmt: skip
    assert value_rows(layout, rows).rows() == [("A", 1), ("B", 2), ("C", 3), ("X", 1)]


def test_a_frame_written_in_many_batches_reads_back_whole_and_in_order(registry: Registry):
    """Bulk writes cut a frame into batches (on PostgreSQL the next batch is written as CSV
    while the server takes in the current one): every row arrives once, values intact."""
    frame = pl.DataFrame(
        {
            "n": pl.int_range(0, 1_003, eager=True).cast(pl.Int64),
            "text": [None if i % 7 == 0 else f'"quote";{i}\n' for i in range(1_003)],
            "day": [dt.date(2026, 1, 1) + dt.timedelta(days=i % 400) for i in range(1_003)],
        }
    )
    seen: list[int] = []
    engine = open_registry(registry.settings)
    with engine.begin() as conn:
        conn.exec_driver_sql("CREATE TABLE zb_bulk_test (n BIGINT, text TEXT, day DATE)")
        try:
            bulk.insert_frame(conn, "zb_bulk_test", frame, batch_rows=100, after_batch=seen.append)
            back = bulk.read_frame(
                conn,
                "SELECT n, text, day FROM zb_bulk_test ORDER BY n",
                {"n": pl.Int64(), "text": pl.String(), "day": pl.Date()},
            )
        finally:
            conn.exec_driver_sql("DROP TABLE zb_bulk_test")
    assert back.equals(frame)
    assert seen[-1] == 1_003 and len(seen) == 11
