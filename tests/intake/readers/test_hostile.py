"""Whatever is uploaded, reading ends in a valid Upload or a ReadError: never another exception."""

from __future__ import annotations

import tempfile
import zipfile
from pathlib import Path

import polars as pl
import xlsxwriter
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.intake.readers.conftest import zip_of
from zorgbroker.intake.readers import Limits, ReadError, open_upload

NIVEL = ["praktijk", "therapeuten", "patienten", "episodes", "verrichtingen"]
VALID_CSV = (
    "bsn;naam;datum;opmerking\n"
    '123456782;Renée;2024-01-31;"een; twee\nregels"\n'
    '111222333;"Zoë ""Z"" de Vries";31-12-2023;\n'
    "999888777;Jan;2024-02-29;=1+1\n"
).encode()


def outcome(path: Path, **options: object) -> str:
    """The outcome, "ok" or a ReadError code, after reading every batch of every table."""
    try:
        upload = open_upload(path, **options)  # type: ignore[arg-type]
        for table in upload.tables.values():
            for batch in table.batches():
                assert isinstance(batch, pl.DataFrame)
                assert batch.columns == table.header
                assert all(dtype == pl.String for dtype in batch.dtypes)
    except ReadError as error:
        assert error.code.startswith("BF-0")
        assert error.message and "\n" not in error.message
        return error.code
    return "ok"


def check_bytes(data: bytes, **options: object) -> str:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "upload"
        path.write_bytes(data)
        return outcome(path, **options)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.binary(max_size=2000), multi=st.booleans(), chunk=st.integers(1, 300))
def test_random_bytes(data: bytes, multi: bool, chunk: int) -> None:
    check_bytes(data, tables=NIVEL if multi else None, chunk_bytes=chunk)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    data=st.lists(
        st.sampled_from(
            [
                b"a",
                b";",
                b",",
                b"\t",
                b'"',
                b"\n",
                b"\r",
                b" ",
                b"\xc3\xa9",
                b"\xe9",
                b"\xef\xbb\xbf",
                b"\x00",
                b"PK\x03\x04",
                b"\xc3",
                b"=cmd",
            ]
        ),
        max_size=200,
    ).map(b"".join),
    chunk=st.integers(1, 64),
)
def test_csv_like_noise(data: bytes, chunk: int) -> None:
    check_bytes(data, chunk_bytes=chunk, limits=Limits(batch_rows=5, max_field_bytes=64))


def test_every_prefix_of_a_valid_csv(tmp_path: Path) -> None:
    path = tmp_path / "export.csv"
    results = set()
    for end in range(len(VALID_CSV) + 1):
        path.write_bytes(VALID_CSV[:end])
        results.add(outcome(path, chunk_bytes=16))
    assert results >= {"ok", "BF-005"}


def test_every_prefix_of_a_valid_zip(tmp_path: Path) -> None:
    whole = zip_of(tmp_path / "nivel.zip", {"episodes.csv": VALID_CSV, "praktijk.csv": b"agb\n1\n"})
    data = whole.read_bytes()
    path = tmp_path / "prefix.zip"
    results = set()
    for end in range(len(data) + 1):
        path.write_bytes(data[:end])
        results.add(outcome(path, tables=NIVEL))
    assert "ok" in results and "BF-001" in results


def test_every_prefix_of_a_valid_xlsx(tmp_path: Path) -> None:
    whole = tmp_path / "export.xlsx"
    book = xlsxwriter.Workbook(str(whole))
    sheet = book.add_worksheet()
    sheet.write_row(0, 0, ["bsn", "naam", "datum"])
    sheet.write_row(1, 0, [123456782, "Renée", "2024-01-31"])
    sheet.write_formula(2, 0, "=A2+1", None, 123456783)
    book.close()
    data = whole.read_bytes()
    path = tmp_path / "prefix.xlsx"
    results = set()
    for end in range(len(data) + 1):
        path.write_bytes(data[:end])
        results.add(outcome(path))
    assert "ok" in results and "BF-001" in results


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(position=st.integers(min_value=0), value=st.integers(0, 255))
def test_one_corrupted_byte_in_an_archive(position: int, value: int) -> None:
    with tempfile.TemporaryDirectory() as folder:
        whole = zip_of(Path(folder) / "nivel.zip", {"episodes.csv": VALID_CSV})
        data = bytearray(whole.read_bytes())
        data[position % len(data)] = value
        whole.write_bytes(bytes(data))
        outcome(whole, tables=NIVEL)


def test_huge_fields_and_long_lines(tmp_path: Path) -> None:
    path = tmp_path / "export.csv"
    megabyte = b"x" * (1024 * 1024)
    for data in (
        b"a;b\n1;" + megabyte + b"\n",
        b'a;b\n1;"' + megabyte + b"\n",  # never closed
        b"a" * (2 * 1024 * 1024),  # no line end at all
        b"a;" + megabyte + b"\n1;2\n",  # a header of a megabyte
        b"a;b\n" + b";" * (1024 * 1024) + b"\n",  # a row of a million empty fields
        b"a\n" + b"\n" * (1024 * 1024),  # a million blank lines
    ):
        path.write_bytes(data)
        outcome(path, chunk_bytes=64 * 1024, limits=Limits(batch_rows=10_000))


def test_oversized_file_is_refused_before_reading(tmp_path: Path) -> None:
    path = tmp_path / "groot.csv"
    path.write_bytes(b"a;b\n" + b"1;2\n" * 100)
    assert outcome(path, limits=Limits(max_file_bytes=100)) == "BF-006"


def test_binary_formats_are_named(tmp_path: Path) -> None:
    path = tmp_path / "upload"
    for head in (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(100), b"%PDF-1.7\n", b"\x1f\x8b\x08"):
        path.write_bytes(head)
        assert outcome(path) == "BF-002"
    ods = zip_of(
        tmp_path / "blad.ods",
        {"mimetype": b"application/vnd.oasis.opendocument.spreadsheet", "content.xml": b"<x/>"},
    )
    assert outcome(ods) == "BF-002"
    with zipfile.ZipFile(tmp_path / "leeg.zip", "w"):
        pass
    # A ZIP archive is a known format; one without the CSV file the dataset needs is a file of
    # another layout.
    assert outcome(tmp_path / "leeg.zip") == "BF-004"
