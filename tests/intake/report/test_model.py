"""A report is built, not patched: the check's result, then the registry's result added."""

from __future__ import annotations

import dataclasses
import io
import json

import pytest
from tests.intake.report.conftest import build_report

from zorgbroker.intake.api import Report, Stored, report_from_json, write_json


def as_json(report: Report) -> dict[str, object]:
    buffer = io.StringIO()
    write_json(report, buffer)
    document: dict[str, object] = json.loads(buffer.getvalue())
    return document


def checked() -> Report:
    made = build_report(mode="production")
    return Report.from_check(
        dataset=made.dataset,
        dataset_version=made.dataset_version,
        mode=made.mode,
        file=made.file,
        records=made.records,
        rejected=made.rejected,
        file_rejected=made.file_rejected,
        messages=made.messages,
        code_texts=made.code_texts,
        multi_table=made.multi_table,
    )


@pytest.mark.parametrize("name", ["stored", "pseudonymisation", "records", "messages"])
def test_a_report_cannot_be_changed(name: str) -> None:
    report = checked()
    with pytest.raises(dataclasses.FrozenInstanceError):
        setattr(report, name, None)


def test_the_checks_result_has_nothing_stored_or_pseudonymised() -> None:
    report = checked()
    assert report.stored is None
    assert report.pseudonymisation == {}
    assert "stored" not in as_json(report)["summary"]  # type: ignore[operator]


def test_the_registry_result_makes_a_new_report() -> None:
    report = checked()
    fingerprints = {"method": "zb1", "stage2": "ab12"}
    stored = report.with_registry_result(
        fingerprints=fingerprints, stored=Stored(new=90, updated=5)
    )
    assert report.stored is None and report.pseudonymisation == {}
    assert stored.stored == Stored(new=90, updated=5)
    assert stored.pseudonymisation == fingerprints
    assert stored.messages is report.messages
    document = as_json(stored)
    assert document["summary"]["stored"] == {"new": 90, "updated": 5, "unchanged": 0}  # type: ignore[index]
    assert document["pseudonymisation"] == fingerprints
    again = report_from_json(document, code_texts=report.code_texts)
    assert (again.stored, again.pseudonymisation) == (stored.stored, fingerprints)
    assert as_json(again) == document


def test_a_test_upload_has_fingerprints_and_nothing_stored() -> None:
    report = checked().with_registry_result(fingerprints={"method": "zb1"})
    document = as_json(report)
    assert "stored" not in document["summary"]  # type: ignore[operator]
    again = report_from_json(document)
    assert again.stored is None
    assert again.pseudonymisation == {"method": "zb1"}
