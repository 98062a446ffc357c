"""Hostile uploads end in a report (a BF message or findings), never in an exception."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import pytest
import xlsxwriter
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.intake.conftest import TODAY, triples
from zorgbroker.intake.generate import generate
from zorgbroker.intake.report.xlsx_report import write_xlsx
from zorgbroker.intake.service import check_file

DATASETS = ["nhr-pmicd", "nivel-fysio", "parabench-mi"]


@pytest.fixture(scope="module")
def samples(tmp_path_factory: pytest.TempPathFactory) -> dict[str, bytes]:
    folder = tmp_path_factory.mktemp("samples")
    out = {}
    for dataset, ext in [("nhr-pmicd", "csv"), ("nivel-fysio", "zip"), ("parabench-mi", "csv")]:
        made = generate(
            dataset, rows=40, out=folder / f"s.{ext}", error_rate=0.2, seed=3, today=TODAY
        )
        out[dataset] = made.path.read_bytes()
    return out


def check_bytes(tmp_path: Path, data: bytes, dataset: str, name: str = "upload.bin"):  # type: ignore[no-untyped-def]
    path = tmp_path / name
    path.write_bytes(data)
    return check_file(path, dataset, today=TODAY).report


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(data=st.binary(max_size=4096), dataset=st.sampled_from(DATASETS))
def test_random_bytes(tmp_path: Path, data: bytes, dataset: str) -> None:
    report = check_bytes(tmp_path, data, dataset)
    assert report.file_rejected or report.records >= 0
    if report.file_rejected:
        assert report.accepted == 0
        assert "BF" in report.messages["class"].to_list()


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(cut=st.floats(min_value=0.0, max_value=1.0), dataset=st.sampled_from(DATASETS))
def test_truncated_files(
    tmp_path: Path, samples: dict[str, bytes], cut: float, dataset: str
) -> None:
    data = samples[dataset]
    report = check_bytes(tmp_path, data[: int(len(data) * cut)], dataset)
    assert report.accepted + (report.records - report.accepted) == report.records


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(position=st.integers(min_value=0, max_value=10_000), junk=st.binary(min_size=1, max_size=64))
def test_corrupted_bytes(
    tmp_path: Path, samples: dict[str, bytes], position: int, junk: bytes
) -> None:
    data = bytearray(samples["nhr-pmicd"])
    at = position % len(data)
    data[at : at + len(junk)] = junk
    report = check_bytes(tmp_path, bytes(data), "nhr-pmicd")
    assert report.records >= 0


def test_zip_bomb_is_refused(tmp_path: Path) -> None:
    buffer = io.BytesIO()
    with (
        zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive,
        archive.open("episodes.csv", "w", force_zip64=True) as member,
    ):
        block = b"\0" * (1 << 20)
        for _ in range(1024):  # 1 GiB of zeros, a few MB packed
            member.write(block)
    report = check_bytes(tmp_path, buffer.getvalue(), "nivel-fysio", "bom.zip")
    assert triples(report.messages) == {(None, None, None, "BF-007")} or (
        "BF-007" in report.messages["code"].to_list()
    )
    assert report.file_rejected


def test_megabyte_field(tmp_path: Path, samples: dict[str, bytes]) -> None:
    lines = samples["nhr-pmicd"].decode().splitlines()
    header = lines[0].split(";")
    row = lines[1].split(";")
    row[header.index("achternaam")] = "x" * 1_000_000
    data = "\n".join([lines[0], ";".join(row), *lines[2:]]).encode()
    report = check_bytes(tmp_path, data, "nhr-pmicd", "big.csv")
    assert (1, "achternaam", "F-005") in triples(report.messages)
    assert report.messages.filter(report.messages["field"] == "achternaam")["value"].null_count()


def test_formula_injection_stays_text(tmp_path: Path, samples: dict[str, bytes]) -> None:
    lines = samples["nhr-pmicd"].decode().splitlines()
    header = lines[0].split(";")
    row = lines[1].split(";")
    payload = '=HYPERLINK("http://evil.invalid","klik")'
    row[header.index("serienummer")] = payload
    data = "\n".join([lines[0], ";".join(row)]).encode()
    report = check_bytes(tmp_path, data, "nhr-pmicd", "inj.csv")
    values = report.messages.filter(report.messages["field"] == "serienummer")["value"].to_list()
    assert payload in values
    out = tmp_path / "r.xlsx"
    write_xlsx(report, out)
    with zipfile.ZipFile(out) as archive:
        sheets = [n for n in archive.namelist() if n.startswith("xl/worksheets/")]
        assert not any(b"<f>" in archive.read(n) for n in sheets)


def test_xlsx_full_of_formulas(tmp_path: Path) -> None:
    from zorgbroker.intake.spec import load_dataset

    header = [f.name for f in load_dataset("parabench-mi").main_table.fields]
    path = tmp_path / "mi.xlsx"
    book = xlsxwriter.Workbook(str(path))
    sheet = book.add_worksheet("mi")
    for col, name in enumerate(header):
        sheet.write_string(0, col, name)
        for row in (1, 2):
            sheet.write_formula(row, col, "=1+1", None, 2)
    book.close()
    report = check_file(path, "parabench-mi", today=TODAY).report
    assert report.messages.height > 0
    assert "Traceback" not in " ".join(report.messages["message"].to_list())
