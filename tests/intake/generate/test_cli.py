"""`zorgbroker generate` as users run it: a file where asked, Dutch usage errors (exit 2)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from tests.intake.generate.conftest import TODAY, read_csv
from zorgbroker.intake.generate.cli import generate_command

app = typer.Typer()


@app.callback()
def _root() -> None:
    """Stands in for the main app the command is wired into."""


app.command("generate")(generate_command)
runner = CliRunner()


def run(*args: str) -> tuple[int, str]:
    result = runner.invoke(app, ["generate", *args])
    return result.exit_code, result.output


def test_writes_the_file_where_asked_and_says_so(tmp_path: Path) -> None:
    target = tmp_path / "export.csv"
    code, output = run(
        "nhr-pmicd", "--rows", "25", "--output", str(target), "--today", "2026-11-22"
    )
    assert code == 0
    assert str(target) in output
    assert read_csv(target).height == 25
    assert not (tmp_path / "export.csv.expected.json").exists()


def test_expected_flag_writes_the_expected_messages(tmp_path: Path) -> None:
    target = tmp_path / "nivel.zip"
    code, output = run(
        "nivel-fysio", "--rows", "40", "--error-rate", "0.5", "--seed", "3",
        "--organisation", "04999999", "--output", str(target), "--expected",
        "--today", TODAY.isoformat(),
    )  # fmt: skip
    assert code == 0
    document = json.loads((tmp_path / "nivel.zip.expected.json").read_text(encoding="utf-8"))
    assert document["organisation"] == "04999999"
    assert document["seed"] == 3
    assert len(document["expected"]) > 0
    assert "nivel.zip.expected.json" in output


def test_default_name_lands_in_the_working_folder_or_the_given_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    assert run("parabench-mi", "--rows", "3")[0] == 0
    assert (tmp_path / "parabench-mi-3.csv").exists()
    folder = tmp_path / "out"
    folder.mkdir()
    assert run("nivel-fysio", "--rows", "5", "--output", str(folder))[0] == 0
    assert (folder / "nivel-fysio-5.zip").exists()


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["onbekend", "--rows", "3"], "Onbekende dataset"),
        (["nhr-pmicd", "--rows", "0"], "--rows"),
        (["nhr-pmicd", "--rows", "3", "--error-rate", "1.5"], "--error-rate"),
        (["nhr-pmicd", "--rows", "3", "--seed", "-1"], "--seed"),
        (["nhr-pmicd", "--rows", "3", "--organisation", "12AB"], "AGB-code"),
        (["nhr-pmicd", "--rows", "3", "--today", "22-11-2026"], "JJJJ-MM-DD"),
    ],
)
def test_bad_arguments_are_usage_errors_in_dutch(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, args: list[str], words: str
) -> None:
    monkeypatch.chdir(tmp_path)
    code, output = run(*args)
    assert code == 2
    assert words in output
    assert "Traceback" not in output
    assert list(tmp_path.iterdir()) == []


def test_an_unwritable_target_is_reported_without_a_traceback(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x")
    code, output = run("parabench-mi", "--rows", "2", "--output", str(blocker / "sub" / "x.csv"))
    assert code == 1
    assert "Fout: kan" in output
    assert "Traceback" not in output


def test_says_when_fewer_records_are_written_than_asked(tmp_path: Path) -> None:
    target = tmp_path / "praktijk.csv"
    code, output = run("parabench-mi", "--rows", "5", "--output", str(target))
    assert code == 0
    assert "Let op: --rows 5 is meer dan een parabench-mi-bestand kan bevatten" in output
    assert "er zijn 4 records geschreven" in output
    assert read_csv(target).height == 4


def test_one_record_and_one_message_are_singular(tmp_path: Path) -> None:
    target = tmp_path / "een.csv"
    code, output = run(
        "nhr-pmicd", "--rows", "1", "--error-rate", "1", "--output", str(target),
        "--today", TODAY.isoformat(),
    )  # fmt: skip
    assert code == 0
    assert "(1 record, organisatie " in output
    assert output.rstrip().endswith(", 1 verwachte melding)")
    assert "Let op" not in output
