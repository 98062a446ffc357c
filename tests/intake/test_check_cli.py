"""`zorgbroker check` as a user runs it: real process, real files, every output format."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import polars as pl
import pytest
from python_calamine import CalamineWorkbook

from tests.intake.conftest import TODAY
from zorgbroker.intake.generate import generate


def run(
    *args: str, env: dict[str, str] | None = None, cwd: Path | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "zorgbroker", *args],
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
        cwd=cwd,
        check=False,
    )


@pytest.fixture(scope="module")
def export(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    folder = tmp_path_factory.mktemp("export")
    made = generate(
        "nhr-pmicd", rows=3000, out=folder / "export.csv", error_rate=0.2, seed=5, today=TODAY
    )
    return made.path, made.organisation


def identifiers(path: Path) -> set[str]:
    """Every BSN, surname and full birth date in the input, in the forms they could be written."""
    frame = pl.read_csv(path, separator=";", infer_schema=False)
    found: set[str] = set()
    for bsn in frame["bsn"].drop_nulls().to_list():
        digits = "".join(ch for ch in bsn if ch.isdigit())
        if len(digits) >= 8:
            found |= {bsn, digits}
    found |= {n for n in frame["achternaam"].drop_nulls().to_list() if len(n) >= 4}
    # A birth date that is also written in a non-identifying column (a procedure on that very
    # day) may rightly appear as that column's value; every other one must not appear at all.
    public = set(frame.drop("bsn", "achternaam", "geboortedatum").unpivot()["value"].drop_nulls())
    for date in frame["geboortedatum"].drop_nulls().to_list():
        if len(date) == 10 and date[4] == "-" and date not in public:
            y, m, d = date.split("-")
            found |= {date, f"{d}-{m}-{y}", f"{y}{m}{d}", f"{d}/{m}/{y}"}
    return found


def test_no_identifier_in_any_output(tmp_path: Path, export: tuple[Path, str]) -> None:
    path, organisation = export
    secrets = identifiers(path)
    assert len(secrets) > 1000
    home, tmp = tmp_path / "home", tmp_path / "tmp"
    home.mkdir()
    tmp.mkdir()
    env = {"ZORGBROKER_HOME": str(home), "TMPDIR": str(tmp), "ZORGBROKER_LOG_LEVEL": "DEBUG"}
    common = [
        "check",
        str(path),
        "--dataset",
        "nhr-pmicd",
        "--organisation",
        organisation,
        "--peildatum",
        TODAY.isoformat(),
    ]
    outputs: list[str] = []
    text = run(*common, "--format", "text", env=env)
    outputs += [text.stdout, text.stderr]
    as_json = run(*common, "--format", "json", env=env)
    outputs += [as_json.stdout, as_json.stderr]
    xlsx = tmp_path / "rapport.xlsx"
    excel = run(*common, "--format", "xlsx", "--output", str(xlsx), env=env)
    outputs.append(excel.stderr)
    with zipfile.ZipFile(xlsx) as archive:
        outputs += [archive.read(n).decode("utf-8", "replace") for n in archive.namelist()]
    assert text.returncode == as_json.returncode == excel.returncode == 0
    report = json.loads(as_json.stdout)
    assert report["summary"]["rejected"] > 0  # the faults include wrong BSNs and birth dates
    assert {"F-301", "W-301", "F-303"} & set(report["summary"]["by_code"])
    blob = "\n".join(outputs)
    leaked = sorted(s for s in secrets if s in blob)
    assert leaked == []
    # Nothing was written to ZORGBROKER_HOME or the temporary folder.
    assert list(home.iterdir()) == [] and list(tmp.iterdir()) == []


def test_exit_statuses_and_messages(tmp_path: Path, export: tuple[Path, str]) -> None:
    path, _ = export
    ok = run("check", str(path), "--dataset", "nhr-pmicd", "--format", "json")
    assert ok.returncode == 0
    garbage = tmp_path / "onzin.csv"
    garbage.write_bytes(os.urandom(4096))
    rejected = run("check", str(garbage), "--dataset", "nhr-pmicd", "--format", "json")
    assert rejected.returncode == 1
    body = json.loads(rejected.stdout)
    assert body["summary"]["file_rejected"] is True
    assert body["messages"][0]["class"] == "BF"
    missing = run("check", str(tmp_path / "bestaat-niet.csv"), "--dataset", "nhr-pmicd")
    assert missing.returncode == 2 and "bestaat niet" in missing.stderr
    unknown = run("check", str(path), "--dataset", "onbekend")
    assert unknown.returncode == 2 and "Onbekende dataset" in unknown.stderr
    assert "Traceback" not in missing.stderr + unknown.stderr + rejected.stderr
    bad_agb = run("check", str(path), "--dataset", "nhr-pmicd", "--organisation", "12")
    assert bad_agb.returncode == 2 and "AGB" in bad_agb.stderr


def test_xlsx_report_matches_json(tmp_path: Path, export: tuple[Path, str]) -> None:
    path, organisation = export
    common = ["check", str(path), "--dataset", "nhr-pmicd", "--organisation", organisation]
    body = json.loads(run(*common, "--format", "json").stdout)
    out = tmp_path / "r.xlsx"
    assert run(*common, "--format", "xlsx", "--output", str(out)).returncode == 0
    book = CalamineWorkbook.from_path(str(out))
    assert book.sheet_names[:2] == ["Samenvatting", "Meldingen"]
    rows = book.get_sheet_by_name("Meldingen").to_python()
    codes = [str(r[2]) for r in rows[1:]]
    header = [str(c) for c in rows[0]]
    code_col = header.index("Code")
    codes = [str(r[code_col]) for r in rows[1:]]
    assert codes == [m["code"] for m in body["messages"]]


def test_text_report_in_dutch(export: tuple[Path, str]) -> None:
    path, organisation = export
    out = run("check", str(path), "--dataset", "nhr-pmicd", "--organisation", organisation)
    assert out.returncode == 0
    assert "BSN voldoet niet aan de elfproef" in out.stdout
    assert "F-301" in out.stdout


def test_datasets_lists_versions() -> None:
    out = run("datasets")
    assert out.returncode == 0
    for name in ("nhr-pmicd", "nivel-fysio", "parabench-mi"):
        assert name in out.stdout
    assert "2026.1" in out.stdout


def test_demo_check_only_makes_and_checks_a_demo_file(tmp_path: Path) -> None:
    out = run(
        "demo",
        "--alleen-controle",
        "--rows",
        "500",
        env={"ZORGBROKER_HOME": str(tmp_path / "home")},
    )
    assert out.returncode == 0, out.stderr
    assert "Kwaliteitsrapport nhr-pmicd 2026.1" in out.stdout
    assert "Records" in out.stdout and "500" in out.stdout
    assert "--format xlsx" in out.stdout
    assert (tmp_path / "home" / "demo" / "demo-nhr-pmicd.csv").is_file()


def test_o_is_the_output_file(tmp_path: Path, export: tuple[Path, str]) -> None:
    path, organisation = export
    out = tmp_path / "rapport.json"
    done = run(
        "check", str(path), "-d", "nhr-pmicd", "--organisation", organisation, "-f", "json",
        "-o", str(out), "--peildatum", TODAY.isoformat(),
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert json.loads(out.read_text(encoding="utf-8"))["summary"]["records"] == 3000
    assert "Let op" not in done.stderr


def test_a_check_without_organisation_says_which_rule_it_skipped(
    tmp_path: Path, export: tuple[Path, str]
) -> None:
    path, _ = export
    done = run(
        "check", str(path), "--dataset", "nhr-pmicd", "--format", "json",
        "--output", str(tmp_path / "r.json"), "--peildatum", TODAY.isoformat(),
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert done.stderr.strip() == (
        "Let op: zonder --organisation is niet gecontroleerd of de AGB-code in het bestand die "
        "van uw organisatie is (F-309)."
    )
