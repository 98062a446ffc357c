"""The browser's reading of an export (`portal/static/stage1/read.js`) against the Python readers
and the source's check: the same tables of text, file information and file-level messages (the
stage-1 manifest's `file_messages`), for each dataset's generated export in the formats a
hospital sends, and the same refusals (BF codes and Dutch texts) for what cannot be read."""

from __future__ import annotations

import base64
import dataclasses
import datetime as dt
import io
import zipfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import polars as pl
import pytest

from tests.browser.stage1_support import plan_of, python_tables, read_in_browser, serve_static
from zorgbroker.intake.api import load_dataset, source_findings
from zorgbroker.intake.generate.api import generate

TODAY = dt.date(2026, 12, 1)
DATASETS = ["nhr-pmicd", "nivel-fysio", "parabench-mi"]


@pytest.fixture(scope="module")
def page(browser: Any) -> Iterator[Any]:
    with serve_static() as url:
        context = browser.new_context()
        page = context.new_page()
        page.goto(url + "/portal.css")
        yield page
        context.close()


def generated(dataset: str, folder: Path, suffix: str) -> Path:
    out = folder / f"{dataset}{suffix}"
    generate(dataset, rows=60, error_rate=0.3, seed=11, out=out, today=TODAY)
    return out


def _members(path: Path) -> dict[str, bytes]:
    if zipfile.is_zipfile(path):
        with zipfile.ZipFile(path) as archive:
            return {name: archive.read(name) for name in archive.namelist()}
    return {path.name: path.read_bytes()}


def _windows_comma(data: bytes) -> bytes:
    """A CSV table as Excel on Windows saves it with a comma: Windows-1252, the comma, CRLF, and
    here an extra column holding a character outside ASCII."""
    frame = pl.read_csv(data, separator=";", infer_schema=False)
    frame = frame.with_columns(
        pl.when(pl.int_range(pl.len()) == 0).then(pl.lit("café, één")).alias("opmerking")
    )
    text = frame.write_csv(separator=",", line_terminator="\r\n")
    # Names Windows-1252 cannot hold become "?", as Excel saves them.
    return text.encode("cp1252", errors="replace")


def windows_variant(source: Path, folder: Path) -> Path:
    members = _members(source)
    if len(members) == 1 and not zipfile.is_zipfile(source):
        out = folder / f"{source.stem}-windows.csv"
        out.write_bytes(_windows_comma(next(iter(members.values()))))
        return out
    out = folder / f"{source.stem}-windows.zip"
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in members.items():
            archive.writestr(name, _windows_comma(data))
    return out


def zipped(source: Path, folder: Path) -> Path:
    out = folder / f"{source.stem}-csv.zip"
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.write(source, f"export/{source.name}")
    return out


def python_view(path: Path, dataset: str) -> dict[str, Any]:
    spec = load_dataset(dataset)
    found = source_findings(path, spec, today=TODAY)
    return {
        "file": found.report.file.as_json(),
        "file_messages": [dataclasses.asdict(m) for m in found.file_messages],
        "refused": found.report.file_rejected,
        "records": found.report.records,
    }


def assert_same(page: Any, path: Path, dataset: str) -> dict[str, Any]:
    spec = load_dataset(dataset)
    js = read_in_browser(page, path, plan_of(dataset))
    py = python_view(path, dataset)
    js_file = {key: js["file"][key] for key in ("name", "sha256", "bytes", "format", "encoding")}
    assert js_file == py["file"]
    assert js["fileMessages"] == py["file_messages"]
    # A BF of a file rule (a registry check, BF-202 say) refuses the export in Python's check
    # too, but the browser carries the tables and the registry runs its file rules itself.
    assert js["refused"] == any(m["code"].startswith("BF-") for m in py["file_messages"])
    assert js["records"] == py["records"]
    if not py["refused"]:
        tables = python_tables(path, spec)
        assert {t["name"] for t in js["tables"]} == set(tables)
        for table in js["tables"]:
            assert table["header"] == tables[table["name"]]["header"], table["name"]
            assert table["rows"] == tables[table["name"]]["rows"], table["name"]
    return js


Variant = Callable[[str, Path], Path]
VARIANTS: dict[str, Variant] = {
    "csv-utf8-semicolon": lambda d, f: generated(d, f, ".csv" if d != "nivel-fysio" else ".zip"),
    "csv-windows-comma": lambda d, f: windows_variant(generated(d, f, ".csv"), f),
    "xlsx": lambda d, f: generated(d, f, ".xlsx"),
    "zip": lambda d, f: (
        generated(d, f, ".zip") if d == "nivel-fysio" else zipped(generated(d, f, ".csv"), f)
    ),
}


@pytest.mark.parametrize("variant", list(VARIANTS))
@pytest.mark.parametrize("dataset", DATASETS)
def test_generated_export_reads_as_in_python(
    page: Any, tmp_path: Path, dataset: str, variant: str
) -> None:
    path = VARIANTS[variant](dataset, tmp_path)
    js = assert_same(page, path, dataset)
    assert not js["refused"]
    assert js["records"] > 0
    expected_format = {"xlsx": "xlsx", "zip": "zip"}.get(variant, "csv")
    if dataset == "nivel-fysio" and variant != "xlsx":
        expected_format = "zip"
    assert js["file"]["format"] == expected_format
    if variant == "csv-windows-comma":
        codes = [m["code"] for m in js["fileMessages"]]
        assert "BW-002" in codes and "BW-001" in codes


def _write(folder: Path, name: str, data: bytes) -> Path:
    path = folder / name
    path.write_bytes(data)
    return path


def _zip(members: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return buffer.getvalue()


def test_empty_file_is_refused_as_in_python(page: Any, tmp_path: Path) -> None:
    js = assert_same(page, _write(tmp_path, "leeg.csv", b""), "nhr-pmicd")
    assert js["refused"] and js["fileMessages"][0]["code"] == "BF-005"
    assert "Bestand bevat geen gegevens" in js["fileMessages"][0]["text"]


def test_header_only_is_refused_as_in_python(page: Any, tmp_path: Path) -> None:
    js = assert_same(page, _write(tmp_path, "kop.csv", b"centrum_agb;bsn\r\n;;\r\n"), "nhr-pmicd")
    assert [m["code"] for m in js["fileMessages"]] == ["BF-005"]


def test_another_datasets_file_is_refused_as_in_python(page: Any, tmp_path: Path) -> None:
    nhr = generated("nhr-pmicd", tmp_path, ".csv")
    js = assert_same(page, nhr, "parabench-mi")
    assert js["refused"]
    assert {"BF-201", "BF-004"} & {m["code"] for m in js["fileMessages"]}
    nivel = generated("nivel-fysio", tmp_path, ".zip")
    js = assert_same(page, nivel, "nhr-pmicd")
    assert js["fileMessages"][0]["code"] == "BF-004"
    assert "nhr-pmicd verwacht" in js["fileMessages"][0]["text"]
    js = assert_same(page, nhr, "nivel-fysio")
    assert js["fileMessages"][0]["code"] == "BF-004"


def test_damaged_zip_is_refused_as_in_python(page: Any, tmp_path: Path) -> None:
    whole = generated("nivel-fysio", tmp_path, ".zip").read_bytes()
    js = assert_same(page, _write(tmp_path, "kapot.zip", whole[: len(whole) // 2]), "nivel-fysio")
    assert [m["code"] for m in js["fileMessages"]] == ["BF-001"]
    assert "beschadigd" in js["fileMessages"][0]["text"]
    # A flipped byte inside a member's compressed data: the checksum (or inflating) fails.
    with zipfile.ZipFile(io.BytesIO(whole)) as archive:
        last = archive.infolist()[-1]
    flipped = bytearray(whole)
    flipped[last.header_offset + 30 + len(last.filename) + last.compress_size // 2] ^= 0xFF
    js = assert_same(page, _write(tmp_path, "omgevallen.zip", bytes(flipped)), "nivel-fysio")
    assert js["refused"]


def test_non_table_files_are_refused_as_in_python(page: Any, tmp_path: Path) -> None:
    for name, data in [
        ("verslag.pdf", b"%PDF-1.7\n" + bytes(range(256)) * 10),
        ("plaatje.bin", bytes(range(256)) * 40),
        ("oud.xls", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 600),
        ("tekst.csv", "a;b\n1;2\n".encode("utf-16")),
        ("binnen.zip", _zip({"a.zip": b"PK\x03\x04", "main.csv": b"a;b\n1;2\n"})),
    ]:
        js = assert_same(page, _write(tmp_path, name, data), "nhr-pmicd")
        assert js["refused"], name
        assert js["fileMessages"][0]["code"] in {"BF-002", "BF-007"}, name


def test_duplicate_columns_are_refused_as_in_python(page: Any, tmp_path: Path) -> None:
    source = generated("nhr-pmicd", tmp_path, ".csv").read_bytes()
    header, rest = source.split(b"\n", 1)
    twice = _write(tmp_path, "dubbel.csv", header + b"; BSN \n" + rest)
    js = assert_same(page, twice, "nhr-pmicd")
    assert js["fileMessages"][0]["code"] == "BF-008"
    assert "hoofdletters en spaties" in js["fileMessages"][0]["text"]


def test_mixed_encoding_is_refused_as_in_python(page: Any, tmp_path: Path) -> None:
    source = generated("parabench-mi", tmp_path, ".csv").read_bytes()
    header, rest = source.split(b"\n", 1)
    glued = header + b"\n" + "é".encode() + rest + "é".encode("cp1252") + b"\n"
    mixed = _write(tmp_path, "gemengd.csv", glued)
    js = assert_same(page, mixed, "parabench-mi")
    assert js["fileMessages"][0]["code"] == "BF-009"


def test_extra_members_and_repeated_rows_as_in_python(page: Any, tmp_path: Path) -> None:
    members = _members(generated("nivel-fysio", tmp_path, ".zip"))
    patients = members["patienten.csv"].split(b"\n")
    members["patienten.csv"] = b"\n".join([*patients[:3], patients[1], *patients[3:]])
    members["notities.txt"] = b"niets"
    js = assert_same(page, _write(tmp_path, "meer.zip", _zip(members)), "nivel-fysio")
    codes = [m["code"] for m in js["fileMessages"]]
    assert codes[:1] == ["BW-001"] and "BW-003" in codes


def test_missing_table_as_in_python(page: Any, tmp_path: Path) -> None:
    members = _members(generated("nivel-fysio", tmp_path, ".zip"))
    del members["verrichtingen.csv"]
    js = assert_same(page, _write(tmp_path, "deels.zip", _zip(members)), "nivel-fysio")
    assert js["refused"]
    assert [m["code"] for m in js["fileMessages"]] == ["BF-101"]


def test_quotes_blank_cells_and_trailing_rows_as_in_python(page: Any, tmp_path: Path) -> None:
    source = generated("parabench-mi", tmp_path, ".csv").read_bytes().decode()
    header, first, *rest = source.split("\n")
    cells = first.split(";")
    cells[4] = '"Noord; ""oost"""'
    cells[5] = "   "
    odd = "\n".join([header, ";".join(cells), "", *rest, ";;;", ""]) + "\r\n\r\n"
    js = assert_same(page, _write(tmp_path, "aanhalingstekens.csv", odd.encode()), "parabench-mi")
    assert not js["refused"]


def _workbook(path: Path, build: Callable[[Any], None]) -> Path:
    from xlsxwriter import Workbook

    book = Workbook(str(path))
    build(book)
    book.close()
    return path


def test_workbook_cells_read_as_in_python(page: Any, tmp_path: Path) -> None:
    """Numbers, dates, times, booleans, formulas and errors as the Python reader's text."""

    def build(book: Any) -> None:
        sheet = book.add_worksheet("gegevens")
        hidden = book.add_worksheet("verborgen")
        hidden.write_row(0, 0, ["a", "b"])
        hidden.hide()
        date = book.add_format({"num_format": "dd-mm-yyyy"})
        moment = book.add_format({"num_format": "yyyy-mm-dd hh:mm:ss"})
        clock = book.add_format({"num_format": "hh:mm"})
        header = plan_of("parabench-mi")["tables"][0]["source_checks"]["structure"]["needs_column"]
        sheet.write_row(0, 0, header)
        sheet.write_row(1, 0, [4012345, 2025, 1.0, True, False, 352193.69])
        sheet.write_datetime(2, 0, dt.datetime(1951, 6, 20), date)
        sheet.write_datetime(2, 1, dt.datetime(2026, 5, 6, 7, 8, 9), moment)
        sheet.write_datetime(2, 2, dt.datetime(1900, 1, 1, 7, 30), clock)
        sheet.write_number(2, 3, 0.1 + 0.2)
        sheet.write_number(2, 4, 1e20)
        sheet.write_number(2, 5, 12345678901234567)
        sheet.write_formula(3, 0, "=1+1", None, 2)
        sheet.write_formula(3, 1, '="x"&"y"', None, "xy")
        sheet.write_string(3, 2, "  ")
        sheet.write_string(3, 3, " spatie ")
        sheet.write_number(4, 0, -0.000012345)
        sheet.write_number(4, 1, 1234567.891)
        sheet.write_blank(6, 0, None, date)

    path = _workbook(tmp_path / "cellen.xlsx", build)
    js = assert_same(page, path, "parabench-mi")
    assert js["tables"][0]["rows"][0][:3] == ["4012345", "2025", "1"]
    assert [m["code"] for m in js["fileMessages"]][:1] == ["BW-004"]


def test_workbook_sheets_by_table_name_as_in_python(page: Any, tmp_path: Path) -> None:
    """Sheets named after the tables in another letter case and order; an extra sheet."""
    source = _members(generated("nivel-fysio", tmp_path, ".zip"))

    def build(book: Any) -> None:
        book.add_worksheet("Toelichting").write(0, 0, "zie handleiding")
        for name in reversed(list(source)):
            sheet = book.add_worksheet(name.removesuffix(".csv").upper())
            lines = source[name].decode().splitlines()
            for row, line in enumerate(lines):
                sheet.write_row(row, 0, line.split(";"))

    path = _workbook(tmp_path / "bladen.xlsx", build)
    js = assert_same(page, path, "nivel-fysio")
    assert js["fileMessages"][0]["code"] == "BW-001"
    assert "'Toelichting'" in js["fileMessages"][0]["text"]


def test_an_empty_workbook_is_refused_as_in_python(page: Any, tmp_path: Path) -> None:
    path = _workbook(tmp_path / "leeg.xlsx", lambda book: book.add_worksheet("blad"))
    js = assert_same(page, path, "nhr-pmicd")
    assert [m["code"] for m in js["fileMessages"]] == ["BF-005"]


def test_formulas_without_stored_values_as_in_python(page: Any, tmp_path: Path) -> None:
    """A workbook a program wrote without calculating it: its formulas have no stored result."""
    header = plan_of("parabench-mi")["tables"][0]["source_checks"]["structure"]["needs_column"]

    def build(book: Any) -> None:
        sheet = book.add_worksheet("gegevens")
        sheet.write_row(0, 0, header)
        sheet.write_row(1, 0, ["04012345", "2025"])
        sheet.write_formula(1, 2, "=1+0", None, 1)

    calculated = _workbook(tmp_path / "berekend.xlsx", build)
    path = tmp_path / "onberekend.xlsx"
    with zipfile.ZipFile(calculated) as source, zipfile.ZipFile(path, "w") as out:
        for item in source.infolist():
            data = source.read(item)
            if item.filename.endswith("sheet1.xml"):
                data = data.replace(b"<v>1</v>", b"")
            out.writestr(item, data)
    js = assert_same(page, path, "parabench-mi")
    assert js["fileMessages"][0]["code"] == "BW-004"
    assert "geen opgeslagen uitkomst" in js["fileMessages"][0]["text"]


def test_a_quote_closed_inside_a_field_is_refused_as_in_python(page: Any, tmp_path: Path) -> None:
    source = generated("nhr-pmicd", tmp_path, ".csv").read_bytes().decode()
    lines = source.split("\n")
    cells = lines[3].split(";")
    cells[2] = '"de" Vries'
    lines[3] = ";".join(cells)
    path = _write(tmp_path, "aanhaling.csv", "\n".join(lines).encode())
    js = assert_same(page, path, "nhr-pmicd")
    assert [m["code"] for m in js["fileMessages"]] == ["BF-001"]
    assert "rij 3 " in js["fileMessages"][0]["text"]


def test_a_quote_inside_an_unquoted_field_is_kept_as_in_python(page: Any, tmp_path: Path) -> None:
    source = generated("nhr-pmicd", tmp_path, ".csv").read_bytes().decode()
    lines = source.split("\n")
    cells = lines[3].split(";")
    cells[2] = 'O"Brien'
    lines[3] = ";".join(cells)
    path = _write(tmp_path, "obrien.csv", "\n".join(lines).encode())
    js = assert_same(page, path, "nhr-pmicd")
    assert not js["refused"]
    assert js["records"] == len([line for line in lines[1:] if line])
    assert js["tables"][0]["rows"][2][2] == 'O"Brien'


def test_a_quote_that_never_closes_is_refused_as_in_python(page: Any, tmp_path: Path) -> None:
    source = generated("nhr-pmicd", tmp_path, ".csv").read_bytes().decode()
    lines = source.split("\n")
    cells = lines[3].split(";")
    cells[2] = '"de Vries'
    lines[3] = ";".join(cells)
    path = _write(tmp_path, "open.csv", "\n".join(lines).encode())
    js = assert_same(page, path, "nhr-pmicd")
    assert [m["code"] for m in js["fileMessages"]] == ["BF-001"]
    assert "rij 3 heeft een aanhalingsteken" in js["fileMessages"][0]["text"]


def test_workbook_dates_and_times_as_in_python(page: Any, tmp_path: Path) -> None:
    """Serial numbers under date, date-time, time and duration formats, the 1900 leap-year
    quirk's corner included, as calamine turns them into text."""
    import random

    rng = random.Random(3)
    serials = [1, 59, 60, 61, 0.5, 0.999988, 36526, 36526.25, 45000.999, 2958465]
    serials += [round(rng.uniform(1, 80000), rng.choice([0, 0, 3, 6])) for _ in range(150)]
    formats = ["dd-mm-yyyy", "yyyy-mm-dd hh:mm:ss", "hh:mm", "[h]:mm:ss", "d mmm yyyy", "0.00"]
    header = plan_of("parabench-mi")["tables"][0]["source_checks"]["structure"]["needs_column"]

    def build(book: Any) -> None:
        sheet = book.add_worksheet("gegevens")
        sheet.write_row(0, 0, header)
        styles = [book.add_format({"num_format": f}) for f in formats]
        for row, serial in enumerate(serials, start=1):
            for col, style in enumerate(styles):
                sheet.write_number(row, col, serial, style)

    path = _workbook(tmp_path / "datums.xlsx", build)
    js = assert_same(page, path, "parabench-mi")
    assert js["tables"][0]["rows"][6][0] == "2000-01-01"


def test_a_sheet_spanning_too_many_cells_is_refused_as_in_python(page: Any, tmp_path: Path) -> None:
    def build(book: Any) -> None:
        sheet = book.add_worksheet("gegevens")
        sheet.write_row(0, 0, ["praktijk_agb", "jaar"])
        sheet.write(1_048_575, 16_383, "x")

    js = assert_same(page, _workbook(tmp_path / "groot.xlsx", build), "parabench-mi")
    assert [m["code"] for m in js["fileMessages"]] == ["BF-006"]
    assert "gevulde cel), het maximum is 32.000.000." in js["fileMessages"][0]["text"]


@pytest.mark.parametrize(
    ("bom", "separator", "eol"),
    [(True, "\t", "\r\n"), (False, "\t", "\r"), (True, ",", "\n"), (False, ";", "\r")],
)
def test_byte_order_marks_tabs_and_line_ends_as_in_python(
    page: Any, tmp_path: Path, bom: bool, separator: str, eol: str
) -> None:
    frame = pl.read_csv(generated("nhr-pmicd", tmp_path, ".csv"), separator=";", infer_schema=False)
    text = frame.write_csv(separator=separator, line_terminator=eol)
    data = ("\ufeff" if bom else "").encode() + text.encode()
    js = assert_same(page, _write(tmp_path, "export.txt", data), "nhr-pmicd")
    assert js["file"]["encoding"] == ("utf-8-sig" if bom else "utf-8")
    assert len(js["tables"][0]["header"]) == frame.width


def test_a_file_without_line_ends_is_refused_as_in_python(page: Any, tmp_path: Path) -> None:
    path = _write(tmp_path, "een-regel.csv", b"bsn;" * 300_000)
    js = assert_same(page, path, "nhr-pmicd")
    assert [m["code"] for m in js["fileMessages"]] == ["BF-001"]
    assert "langer dan 1 MB" in js["fileMessages"][0]["text"]


def test_a_damaged_workbook_is_refused_as_in_python(page: Any, tmp_path: Path) -> None:
    whole = generated("nhr-pmicd", tmp_path, ".xlsx").read_bytes()
    with zipfile.ZipFile(io.BytesIO(whole)) as archive:
        sheet = next(i for i in archive.infolist() if i.filename.endswith("sheet1.xml"))
    broken = bytearray(whole)
    broken[sheet.header_offset + 30 + len(sheet.filename) + sheet.compress_size // 2] ^= 0xFF
    js = assert_same(page, _write(tmp_path, "kapot.xlsx", bytes(broken)), "nhr-pmicd")
    assert js["refused"] and js["fileMessages"][0]["code"] == "BF-001"
    assert js["file"]["format"] == "xlsx"


def test_a_file_too_large_for_the_browser_is_refused_in_dutch(page: Any, tmp_path: Path) -> None:
    """A text longer than a browser tab can hold (some 500 million characters) cannot be read
    there: a stand-in decoder fails as Chromium does, and the export is refused with BF-006."""
    path = generated("nhr-pmicd", tmp_path, ".csv")
    data = base64.b64encode(path.read_bytes()).decode()
    js = page.evaluate(
        """async ([data, name, plan]) => {
          const { readExport } = await import("/stage1/read.js");
          const bytes = Uint8Array.from(atob(data), (c) => c.charCodeAt(0));
          const decode = TextDecoder.prototype.decode;
          TextDecoder.prototype.decode = () => { throw new RangeError("Invalid string length"); };
          try {
            return await readExport(new File([bytes], name), plan);
          } finally {
            TextDecoder.prototype.decode = decode;
          }
        }""",
        [data, path.name, plan_of("nhr-pmicd")],
    )
    assert js["refused"] and js["tables"] == []
    assert js["fileMessages"][0]["code"] == "BF-006"
    assert "te groot om in de browser te lezen" in js["fileMessages"][0]["text"]


def _glued(data: bytes, first: str, later: str, at: int) -> bytes:
    """An export with `first` encoded in row 1's name and `later` in row `at`'s (and nothing
    else outside ASCII)."""
    lines = data.decode().encode("ascii", errors="replace").split(b"\n")
    for row, encoding in ((1, first), (at, later)):
        cells = lines[row].split(b";")
        cells[2] = "Ølsen".encode(encoding)
        lines[row] = b";".join(cells)
    return b"\n".join(lines)


@pytest.mark.parametrize(("first", "later"), [("utf-8", "cp1252"), ("cp1252", "utf-8")])
def test_mixed_encoding_far_into_a_member_names_the_row_as_python(
    page: Any, tmp_path: Path, first: str, later: str
) -> None:
    """Python settles a member's encoding from its first 64 kB once it has seen data and a
    character outside ASCII; a clash further on is found while parsing, naming a row."""
    source = tmp_path / "bron.csv"
    generate("nhr-pmicd", rows=3000, error_rate=0.0, seed=2, out=source, today=TODAY)
    glued = _glued(source.read_bytes(), first, later, 2500)
    js = assert_same(
        page, _write(tmp_path, "gemengd.zip", _zip({"export.csv": glued})), "nhr-pmicd"
    )
    assert [m["code"] for m in js["fileMessages"]] == ["BF-009"]
    assert "gezien bij rij" in js["fileMessages"][0]["text"]


def test_mixed_encoding_past_the_first_16_mb_names_the_row_as_python(
    page: Any, tmp_path: Path
) -> None:
    source = tmp_path / "groot.csv"
    generate("nhr-pmicd", rows=110_000, error_rate=0.0, seed=2, out=source, today=TODAY)
    assert source.stat().st_size > 16 * 1024 * 1024
    glued = _glued(source.read_bytes(), "utf-8", "cp1252", 108_000)
    js = assert_same(page, _write(tmp_path, "gemengd.csv", glued), "nhr-pmicd")
    assert js["fileMessages"][0]["text"].count("gezien bij rij 108000") == 1


def test_merely_formatted_rows_count_for_the_grid_as_in_python(page: Any, tmp_path: Path) -> None:
    header = plan_of("parabench-mi")["tables"][0]["source_checks"]["structure"]["needs_column"]

    def build(book: Any) -> None:
        sheet = book.add_worksheet("gegevens")
        sheet.write_row(0, 0, [*header, *(f"extra{i}" for i in range(40 - len(header)))])
        sheet.write_row(1, 0, ["04012345", "2025"])
        sheet.set_row(999_999, None, book.add_format({"bold": True}))

    js = assert_same(page, _workbook(tmp_path / "opgemaakt.xlsx", build), "parabench-mi")
    assert [m["code"] for m in js["fileMessages"]] == ["BF-006"]
