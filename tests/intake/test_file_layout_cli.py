"""`zorgbroker check` on files a new user got wrong: the report says what is wrong, in Dutch,
and no traceback escapes (issue 14, item 9)."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import zipfile
from pathlib import Path
from typing import Any

import polars as pl
import xlsxwriter

from tests.intake.conftest import TODAY
from zorgbroker.intake.generate import generate


def check(file: Path, dataset: str, home: Path) -> tuple[int, dict[str, Any], str]:
    """Exit status, JSON report and stderr of `zorgbroker check`."""
    report = home / "rapport.json"
    options = ["--format", "json", "--output", str(report), "--peildatum", TODAY.isoformat()]
    done = subprocess.run(
        [sys.executable, "-m", "zorgbroker", "check", str(file), "--dataset", dataset, *options],
        capture_output=True,
        text=True,
        env={**os.environ, "ZORGBROKER_HOME": str(home)},
        check=False,
    )
    assert "Traceback" not in done.stderr, done.stderr
    return done.returncode, json.loads(report.read_text(encoding="utf-8")), done.stderr


def zorgbroker(home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "zorgbroker", *args],
        capture_output=True,
        text=True,
        env={**os.environ, "ZORGBROKER_HOME": str(home)},
        check=False,
    )


def case_duplicates(folder: Path) -> Path:
    """An nhr-pmicd export with `CENTRUM_AGB` first and `centrum_agb ` last."""
    made = generate("nhr-pmicd", rows=5, out=folder / "export.csv", today=TODAY)
    header, rest = made.path.read_text(encoding="utf-8").split("\n", 1)
    names = header.split(";")
    names[names.index("centrum_agb")] = "CENTRUM_AGB"
    lines = [";".join([*names, "centrum_agb "])]
    lines += [line + ";" + line.split(";")[0] for line in rest.splitlines() if line]
    made.path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return made.path


def test_column_names_differing_in_case_or_spaces_are_bf008(tmp_path: Path) -> None:
    status, report, _ = check(case_duplicates(tmp_path), "nhr-pmicd", tmp_path)
    assert status == 1
    assert report["summary"]["by_code"] == {"BF-008": 1}
    text = report["messages"][0]["message"]
    assert text.startswith("Kolomnaam komt meer dan eens voor: kolom 1 en kolom ")
    assert "hoofdletters" in text


def test_production_submit_of_such_a_file_is_bf008_and_keeps_nothing_of_it(tmp_path: Path) -> None:
    export = case_duplicates(tmp_path)
    home = tmp_path / "home"
    assert zorgbroker(home, "ttp", "init").returncode == 0
    report = tmp_path / "rapport.json"
    done = zorgbroker(
        home,
        "submit",
        str(export),
        "--dataset",
        "nhr-pmicd",
        "--organisation",
        "01234567",
        "--mode",
        "production",
        "--format",
        "json",
        "--output",
        str(report),
    )
    assert "Traceback" not in done.stderr, done.stderr
    assert done.returncode == 1
    assert json.loads(report.read_text(encoding="utf-8"))["summary"]["by_code"] == {"BF-008": 1}
    raw = export.read_bytes()
    kept = [path for path in home.rglob("*") if path.is_file() and path.read_bytes() == raw]
    assert kept == []


def test_another_datasets_archive_says_which_layout_is_expected(tmp_path: Path) -> None:
    made = generate("nivel-fysio", rows=5, out=tmp_path / "fysio.zip", today=TODAY)
    status, report, _ = check(made.path, "nhr-pmicd", tmp_path)
    assert status == 1
    assert report["file"]["format"] == "zip"
    assert report["summary"]["by_code"] == {"BF-004": 1}
    text = report["messages"][0]["message"]
    assert "nhr-pmicd verwacht één CSV- of XLSX-bestand" in text
    assert "Onbekend bestandsformaat" not in text


def test_a_lone_csv_for_a_multi_table_dataset_names_its_tables(tmp_path: Path) -> None:
    made = generate("nhr-pmicd", rows=5, out=tmp_path / "export.csv", today=TODAY)
    status, report, _ = check(made.path, "nivel-fysio", tmp_path)
    assert status == 1
    assert report["summary"]["by_code"] == {"BF-004": 1}
    assert (
        "nivel-fysio verwacht een ZIP-archief met de tabellen praktijk, "
        in (report["messages"][0]["message"])
    )


def test_submit_gives_the_same_explanation_as_check(tmp_path: Path) -> None:
    """The explanation is made at the source, where the export is read, and travels to the
    registry in the stage-1 file: a submit must say what check says, not the code's bare text."""
    made = generate("nhr-pmicd", rows=5, out=tmp_path / "export.csv", today=TODAY)
    _, checked, _ = check(made.path, "nivel-fysio", tmp_path)
    home = tmp_path / "home"
    assert zorgbroker(home, "ttp", "init").returncode == 0
    report = tmp_path / "ingediend.json"
    done = zorgbroker(
        home, "submit", str(made.path), "--dataset", "nivel-fysio", "--organisation", "01234567",
        "--mode", "test", "--format", "json", "--output", str(report),
    )  # fmt: skip
    assert "Traceback" not in done.stderr, done.stderr
    assert done.returncode == 1
    submitted = json.loads(report.read_text(encoding="utf-8"))
    assert submitted["messages"] == checked["messages"]
    assert "nivel-fysio verwacht een ZIP-archief" in submitted["messages"][0]["message"]


def test_formulas_without_stored_results_are_reported_plainly(tmp_path: Path) -> None:
    made = generate("parabench-mi", rows=2, out=tmp_path / "mi.csv", today=TODAY)
    frame = pl.read_csv(made.path, separator=";", infer_schema=False)
    written = tmp_path / "geschreven.xlsx"
    book = xlsxwriter.Workbook(str(written))
    sheet = book.add_worksheet()
    sheet.write_row(0, 0, frame.columns)
    for r, row in enumerate(frame.rows(), start=1):
        for c, value in enumerate(row):
            sheet.write_string(r, c, value or "")
    # A total computed by a formula, as a program writes it: the result is never stored.
    column = frame.columns.index("no_shows")
    sheet.write_formula(1, column, "=1+1", None, 2)
    book.close()
    path = tmp_path / "mi.xlsx"
    with zipfile.ZipFile(written) as source, zipfile.ZipFile(path, "w") as copy:
        for member in source.infolist():
            data = source.read(member)
            if member.filename.startswith("xl/worksheets/"):
                data = re.sub(rb"(</f>)<v>[^<]*</v>", rb"\1", data)
            copy.writestr(member, data)

    _, report, _ = check(path, "parabench-mi", tmp_path)
    texts = [m["message"] for m in report["messages"] if m["code"] == "BW-004"]
    assert len(texts) == 1
    assert "geen opgeslagen uitkomst" in texts[0]
    assert "Open de werkmap in Excel en sla haar op" in texts[0]
    assert "opgeslagen waarden gebruikt" not in texts[0]
