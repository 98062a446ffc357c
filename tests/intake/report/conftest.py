"""Reports built by hand, so the writers can be tested without the check engine."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import polars as pl
import pytest

from zorgbroker.intake.report.model import MESSAGE_SCHEMA, FileInfo, Report, Stored

CODE_TEXTS = {
    "BF-003": "Verplichte kolom ontbreekt",
    "BW-001": "Extra kolommen genegeerd",
    "F-001": "Verplichte waarde ontbreekt",
    "F-004": "Waarde buiten het toegestane bereik",
    "F-301": "BSN voldoet niet aan de elfproef",
    "W-301": "Leeftijd bij de ingreep onder 18 of boven 100 jaar",
    "TF-301": "Serienummer van de generator is al geregistreerd bij een andere patiënt",
    "TW-301": "Mogelijk dubbele registratie van dezelfde ingreep",
}

#: A mixed bag in deliberately unsorted class order, as an engine might emit it.
SAMPLE_MESSAGES: list[dict[str, Any]] = [
    {
        "record": None,
        "field": None,
        "code": "BW-001",
        "value": None,
        "message": "Extra kolommen genegeerd: opmerking",
    },
    {
        "record": 17,
        "field": "bsn",
        "code": "F-301",
        "value": None,
        "message": "BSN voldoet niet aan de elfproef",
    },
    {
        "record": 18,
        "field": "leeftijd",
        "code": "W-301",
        "value": "104",
        "message": "Leeftijd bij de ingreep is 104 jaar",
    },
    {
        "record": 20,
        "field": "serienummer_generator",
        "code": "TW-301",
        "value": "SN-1",
        "message": "Zelfde ingreep al aangeleverd met andere inhoud",
    },
    {
        "record": 21,
        "field": "aantal_leads",
        "code": "F-004",
        "value": "-2",
        "message": "Waarde buiten het toegestane bereik (0 tot 4)",
    },
    {
        "record": 22,
        "field": "leeftijd",
        "code": "W-301",
        "value": "12",
        "message": "Leeftijd bij de ingreep is 12 jaar",
    },
    {
        "record": 25,
        "field": "serienummer_generator",
        "code": "TF-301",
        "value": "SN-2",
        "message": "Serienummer is al geïmplanteerd bij een andere patiënt",
    },
]


def messages_frame(messages: list[dict[str, Any]], table: str | None = None) -> pl.DataFrame:
    rows = [{"table": table, "class": m["code"].split("-")[0], **m} for m in messages]
    if not rows:
        return pl.DataFrame(schema=MESSAGE_SCHEMA)
    return pl.from_dicts(rows, schema=MESSAGE_SCHEMA)


def build_report(
    messages: list[dict[str, Any]] | pl.DataFrame | None = None,
    *,
    mode: str = "test",
    records: int = 100,
    rejected: int | None = None,
    file_rejected: bool = False,
    multi_table: bool = False,
    stored: Stored | None = None,
) -> Report:
    if messages is None:
        messages = SAMPLE_MESSAGES
    frame = messages if isinstance(messages, pl.DataFrame) else messages_frame(messages)
    if rejected is None:
        rejected = frame.filter(pl.col("class").is_in(["F", "TF"]))["record"].n_unique()
    return Report(
        dataset="nhr-pmicd",
        dataset_version="2026.1",
        mode=mode,  # type: ignore[arg-type]
        file=FileInfo(
            name="export.csv", sha256="ab" * 32, bytes=123_456, format="csv", encoding="utf-8"
        ),
        records=records,
        rejected=rejected,
        file_rejected=file_rejected,
        messages=frame,
        code_texts=dict(CODE_TEXTS),
        multi_table=multi_table,
        stored=stored,
    )


@pytest.fixture
def multi_table_report() -> Report:
    frame = pl.concat(
        [
            messages_frame(
                [
                    {
                        "record": 3,
                        "field": "geboortejaar",
                        "code": "F-001",
                        "value": None,
                        "message": "Verplichte waarde ontbreekt",
                    }
                ],
                table="patient",
            ),
            messages_frame(
                [
                    {
                        "record": 7,
                        "field": "startdatum",
                        "code": "F-004",
                        "value": "1899-01-01",
                        "message": "Waarde buiten het toegestane bereik",
                    }
                ],
                table="episode",
            ),
        ]
    )
    return build_report(frame, multi_table=True)


@pytest.fixture
def make_report() -> Callable[..., Report]:
    return build_report


@pytest.fixture
def make_messages() -> Callable[..., pl.DataFrame]:
    return messages_frame
