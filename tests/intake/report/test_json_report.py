from __future__ import annotations

import io
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from zorgbroker.intake.report.json_report import (
    StoredReportError,
    from_json_dict,
    to_json_dict,
    write_json,
)
from zorgbroker.intake.report.model import Report, Stored

ReportFactory = Callable[..., Report]
MESSAGE_KEYS = ["class", "code", "record", "field", "value", "message"]


def written(report: Report) -> dict[str, Any]:
    out = io.StringIO()
    write_json(report, out)
    parsed: dict[str, Any] = json.loads(out.getvalue())
    return parsed


def assert_same_report(a: Report, b: Report) -> None:
    assert a.messages.equals(b.messages)
    for name in (
        "dataset",
        "dataset_version",
        "mode",
        "file",
        "records",
        "rejected",
        "file_rejected",
        "code_texts",
        "multi_table",
        "stored",
    ):
        assert getattr(a, name) == getattr(b, name), name


def test_document_has_the_contract_keys_in_contract_order(make_report: ReportFactory) -> None:
    document = to_json_dict(make_report())

    assert list(document) == [
        "report_version",
        "dataset",
        "dataset_version",
        "mode",
        "file",
        "summary",
        "messages",
    ]
    assert document["report_version"] == 1
    assert (document["dataset"], document["dataset_version"]) == ("nhr-pmicd", "2026.1")
    assert document["mode"] == "test"
    assert document["file"] == {
        "name": "export.csv",
        "sha256": "ab" * 32,
        "bytes": 123_456,
        "format": "csv",
        "encoding": "utf-8",
    }
    assert list(document["summary"]) == [
        "records",
        "accepted",
        "rejected",
        "file_rejected",
        "by_code",
    ]
    for message in document["messages"]:
        assert list(message) == MESSAGE_KEYS


def test_messages_keep_report_order_and_content(make_report: ReportFactory) -> None:
    document = to_json_dict(make_report())

    assert [m["code"] for m in document["messages"]] == [
        "BW-001",
        "F-301",
        "W-301",
        "TW-301",
        "F-004",
        "W-301",
        "TF-301",
    ]
    assert document["messages"][0] == {
        "class": "BW",
        "code": "BW-001",
        "record": None,
        "field": None,
        "value": None,
        "message": "Extra kolommen genegeerd: opmerking",
    }
    assert document["messages"][4]["value"] == "-2"
    assert document["messages"][4]["record"] == 21


def test_summary_counts_add_up(make_report: ReportFactory) -> None:
    summary = to_json_dict(make_report(records=100))["summary"]

    assert summary["rejected"] == 3
    assert summary["accepted"] == 97
    assert summary["accepted"] + summary["rejected"] == summary["records"] == 100
    assert summary["file_rejected"] is False
    assert summary["by_code"] == {
        "BW-001": 1,
        "F-004": 1,
        "F-301": 1,
        "TF-301": 1,
        "TW-301": 1,
        "W-301": 2,
    }


def test_rejected_file_accepts_nothing(make_report: ReportFactory) -> None:
    bf = [
        {
            "record": None,
            "field": "bsn",
            "code": "BF-003",
            "value": None,
            "message": "Verplichte kolom ontbreekt: bsn",
        }
    ]
    summary = to_json_dict(make_report(bf, records=40, rejected=0, file_rejected=True))["summary"]

    assert summary["file_rejected"] is True
    assert summary["accepted"] == 0
    assert summary["rejected"] == summary["records"] == 40


def test_stored_only_in_production(make_report: ReportFactory) -> None:
    test_summary = to_json_dict(make_report(mode="test"))["summary"]
    production = make_report(mode="production", stored=Stored(new=90, updated=5, unchanged=2))
    production_summary = to_json_dict(production)["summary"]

    assert "stored" not in test_summary
    assert production_summary["stored"] == {"new": 90, "updated": 5, "unchanged": 2}
    assert list(production_summary)[-1] == "stored"


def test_table_key_only_for_multi_table_datasets(
    make_report: ReportFactory, multi_table_report: Report
) -> None:
    single = to_json_dict(make_report())
    multi = to_json_dict(multi_table_report)

    assert all("table" not in m for m in single["messages"])
    assert [(m["table"], m["record"]) for m in multi["messages"]] == [
        ("patient", 3),
        ("episode", 7),
    ]
    assert list(multi["messages"][0]) == [*MESSAGE_KEYS, "table"]


def test_clean_report_has_empty_messages_and_by_code(make_report: ReportFactory) -> None:
    report = make_report([], rejected=0)

    assert to_json_dict(report)["messages"] == []
    assert to_json_dict(report)["summary"]["by_code"] == {}
    assert written(report) == to_json_dict(report)


def test_written_json_equals_the_dict(
    make_report: ReportFactory, multi_table_report: Report, tmp_path: Path
) -> None:
    report = make_report(mode="production", stored=Stored(new=1))
    path = tmp_path / "rapport.json"
    write_json(report, path)

    assert json.loads(path.read_text(encoding="utf-8")) == to_json_dict(report)
    assert written(report) == to_json_dict(report)
    assert written(multi_table_report) == to_json_dict(multi_table_report)


def test_written_json_keeps_non_ascii_readable(make_report: ReportFactory) -> None:
    out = io.StringIO()
    write_json(make_report(), out)

    assert "geïmplanteerd bij een andere patiënt" in out.getvalue()


def test_many_messages_stream_out_intact(
    make_report: ReportFactory, make_messages: Callable[..., pl.DataFrame]
) -> None:
    n = 120_005  # more than two of the writer's slices
    frame = make_messages(
        [{"record": 1, "field": "leeftijd", "code": "W-301", "value": "104", "message": "x"}]
    ).select(pl.all().repeat_by(n).explode())
    frame = frame.with_columns(pl.int_range(1, n + 1, dtype=pl.Int64).alias("record"))
    report = make_report(frame, records=n, rejected=0)

    messages = written(report)["messages"]

    assert len(messages) == n
    assert [m["record"] for m in messages[:3]] == [1, 2, 3]
    assert messages[-1]["record"] == n


# The factory fixture is a pure function, so sharing it across examples is safe.
@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(values=st.lists(st.one_of(st.none(), st.text()), min_size=1, max_size=5))
def test_any_text_value_survives_writing(
    make_report: ReportFactory, values: list[str | None]
) -> None:
    rows = [
        {"record": i + 1, "field": "opmerking", "code": "W-301", "value": v, "message": f"m {v}"}
        for i, v in enumerate(values)
    ]
    report = make_report(rows)

    assert [m["value"] for m in written(report)["messages"]] == values


def test_round_trip_gives_the_same_report(
    make_report: ReportFactory, multi_table_report: Report
) -> None:
    for report in (
        make_report(),
        make_report(mode="production", stored=Stored(new=90, updated=5, unchanged=2)),
        make_report([], rejected=0),
        multi_table_report,
    ):
        again = from_json_dict(to_json_dict(report), code_texts=report.code_texts)
        assert_same_report(again, report)
        assert to_json_dict(again) == to_json_dict(report)


def test_round_trip_through_written_json(make_report: ReportFactory) -> None:
    report = make_report()

    again = from_json_dict(written(report))

    assert to_json_dict(again) == to_json_dict(report)
    assert again.code_texts == {}


def test_multi_table_without_messages_needs_to_be_told(make_report: ReportFactory) -> None:
    document = to_json_dict(make_report([], rejected=0, multi_table=True))

    assert from_json_dict(document).multi_table is False
    assert from_json_dict(document, multi_table=True).multi_table is True


@pytest.mark.parametrize(
    "damage",
    [
        lambda d: d.pop("summary"),
        lambda d: d.update(report_version=99),
        lambda d: d.update(mode="proef"),
        lambda d: d["file"].pop("sha256"),
        lambda d: d.update(messages=[{"class": "F", "record": "zeventien"}]),
    ],
)
def test_damaged_stored_report_gives_a_dutch_error(make_report: ReportFactory, damage: Any) -> None:
    document = to_json_dict(make_report())
    damage(document)

    with pytest.raises(StoredReportError, match="Opgeslagen rapport is onleesbaar"):
        from_json_dict(document)
