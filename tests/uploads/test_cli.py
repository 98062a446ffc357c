"""`zorgbroker submit`, `uploads` and `report` as a user runs them."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from tests.registry.conftest import AGB, OTHER_AGB, Registry, nhr_row, parabench_row, serial_rows
from tests.stage1 import make_ttp_unusable
from zorgbroker.cli import app
from zorgbroker.registry.crash_point import PAUSE_ENV
from zorgbroker.uploads.errors import ProcessingFailed


def run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(app, list(args))
    return result.exit_code, result.stdout, result.stderr


def submit(registry: Registry, path: str, *extra: str) -> tuple[int, str, str]:
    return run("submit", path, "--dataset", "nhr-pmicd", "--organisation", AGB,
               "--peildatum", "2026-11-22", *extra)  # fmt: skip


def test_production_submit_prints_the_contract_json_with_stored(registry: Registry):
    path = str(registry.nhr_file([nhr_row()]))

    code, out, _ = submit(registry, path, "--mode", "production", "--format", "json")

    assert code == 0
    document = json.loads(out)
    assert document["mode"] == "production"
    assert document["summary"]["stored"] == {"new": 1, "updated": 0, "unchanged": 0}
    assert document["summary"]["accepted"] == 1


def test_test_submit_checks_but_stores_no_records(registry: Registry):
    path = str(registry.nhr_file([nhr_row()]))

    code, out, _ = submit(registry, path, "--mode", "test", "--format", "json")

    assert code == 0
    document = json.loads(out)
    assert document["mode"] == "test"
    assert "stored" not in document["summary"]
    assert registry.held().height == 0
    listed = json.loads(run("uploads", "--format", "json")[1])
    assert [(u["mode"], u["status"], u["records"]) for u in listed] == [("test", "done", 1)]


def test_a_rejected_file_exits_1_and_stores_nothing(registry: Registry):
    path = registry.folder / "leeg.csv"
    path.write_bytes(b"")

    code, out, _ = submit(registry, str(path), "--mode", "production", "--format", "json")

    assert code == 1
    document = json.loads(out)
    assert document["summary"]["file_rejected"] is True
    assert document["summary"]["stored"] == {"new": 0, "updated": 0, "unchanged": 0}


def test_an_export_a_registry_file_rule_refuses_is_refused_in_the_registrys_report(
    registry: Registry,
):
    """A file rule (BF-204) is the registry's to compute: the stage-1 file carries the tables,
    and the registry's report rejects the file with the rule's message, as a check does."""
    rows = [parabench_row(1, jaar_afgesloten="J"), parabench_row(2, jaar_afgesloten="N")]
    path = str(registry.parabench_file(rows))
    common = ("--dataset", "parabench-mi", "--organisation", AGB, "--peildatum", "2026-11-22",
              "--format", "json")  # fmt: skip

    code, out, _ = run("submit", path, "--mode", "test", *common)
    checked_code, checked, _ = run("check", path, *common)

    assert (code, checked_code) == (1, 1)
    submitted, direct = json.loads(out), json.loads(checked)
    assert submitted["summary"]["file_rejected"] is True
    assert submitted["summary"]["records"] == direct["summary"]["records"] == 2
    assert [m["code"] for m in submitted["messages"]] == [m["code"] for m in direct["messages"]]
    assert "BF-204" in [m["code"] for m in submitted["messages"]]


def test_usage_errors_exit_2_with_a_dutch_message(registry: Registry):
    path = str(registry.nhr_file([nhr_row()]))

    code, _, err = run("submit", path, "--dataset", "nhr-pmicd", "--organisation", "12",
                       "--mode", "production")  # fmt: skip
    assert code == 2
    assert "geen AGB-code" in err
    code, _, err = run("submit", path, "--dataset", "bestaat-niet", "--organisation", AGB,
                       "--mode", "production")  # fmt: skip
    assert code == 2
    code, _, err = run("report", "999")
    assert code == 2
    assert "bestaat niet" in err


def test_uploads_lists_history_per_organisation_and_report_prints_it_again(registry: Registry):
    first = str(registry.nhr_file([nhr_row()]))
    other = str(registry.nhr_file([nhr_row(centrum_agb=OTHER_AGB)]))
    submit(registry, first, "--mode", "production")
    run("submit", other, "--dataset", "nhr-pmicd", "--organisation", OTHER_AGB,
        "--mode", "test", "--peildatum", "2026-11-22")  # fmt: skip

    everything = json.loads(run("uploads", "--format", "json")[1])
    mine = json.loads(run("uploads", "--organisation", AGB, "--format", "json")[1])

    assert [u["organisation"] for u in everything] == [OTHER_AGB, AGB]
    assert [(u["id"], u["mode"], u["records"], u["accepted"], u["rejected"]) for u in mine] == [
        (1, "production", 1, 1, 0)
    ]
    assert mine[0]["stored"] == {"new": 1, "updated": 0, "unchanged": 0}
    code, text, _ = run("uploads")
    assert code == 0
    assert "productie" in text and "verwerkt" in text
    code, out, _ = run("report", "1", "--format", "json")
    assert code == 0
    assert json.loads(out)["summary"]["stored"]["new"] == 1
    code, text, _ = run("report", "1")
    assert code == 0
    assert "Kwaliteitsrapport" in text


def test_reports_name_the_key_fingerprints_but_no_key(registry: Registry):
    from zorgbroker.pseudonymisation.ttp import TrustedThirdParty
    from zorgbroker.settings import get_settings

    path = str(registry.nhr_file([nhr_row()]))
    code, out, _ = submit(registry, path, "--mode", "production", "--format", "json")
    assert code == 0
    keys = json.loads(out)["pseudonymisation"]
    expected = TrustedThirdParty(get_settings().home).key_info("nhr")
    assert keys["registry"] == "nhr"
    assert keys["registry_key"] == expected.fingerprint
    assert keys["registry_key_version"] == expected.version
    assert keys["mode"] == "production"

    code, out, _ = submit(registry, path, "--mode", "test", "--format", "json")
    test_keys = json.loads(out)["pseudonymisation"]
    assert test_keys["mode"] == "test"
    assert test_keys["registry_key"] != keys["registry_key"]  # a throw-away key per test upload
    code, out, _ = run("report", "1", "--format", "json")
    assert json.loads(out)["pseudonymisation"] == keys


def test_excel_report_names_the_key_fingerprints(registry: Registry, tmp_path):
    from python_calamine import CalamineWorkbook

    path = str(registry.nhr_file([nhr_row()]))
    out = tmp_path / "r.xlsx"
    code, _, _ = submit(registry, path, "--mode", "production", "--format", "xlsx",
                        "--output", str(out))  # fmt: skip
    assert code == 0
    summary = CalamineWorkbook.from_path(str(out)).get_sheet_by_name("Samenvatting").to_python()
    labels = {str(r[0]): str(r[1]) for r in summary if r and r[0]}
    assert labels["Sleutel: registry"] == "nhr"
    assert len(labels["Sleutel: registry_key"]) == 16


def test_report_of_an_unfinished_upload_exits_4_and_of_a_failed_one_3(registry: Registry):
    queued = registry.receive(registry.nhr_file([nhr_row()]))

    code, _, err = run("report", str(queued))

    assert code == 4  # not 2: nothing was typed wrong, the report is just not there yet
    assert f"aanlevering {queued} staat nog in de wachtrij" in err
    make_ttp_unusable(registry.settings.home)  # the registry's stage 2 fails
    with pytest.raises(ProcessingFailed):
        registry.process(queued)
    code, _, err = run("report", str(queued))
    assert code == 3
    assert "is mislukt" in err


def test_ctrl_c_during_a_production_submit_stops_the_upload_and_says_how_to_resume(
    registry: Registry, tmp_path: Path
):
    if registry.backend != "sqlite":
        pytest.skip("one database is enough: the interruption is the same")
    path = registry.nhr_file(serial_rows(300))
    pause = tmp_path / "pause"
    env = {**os.environ, PAUSE_ENV: str(pause), "ZORGBROKER_IMPORT_BATCH_ROWS": "100"}
    process = subprocess.Popen(
        [sys.executable, "-m", "zorgbroker", "submit", str(path), "--dataset", "nhr-pmicd",
         "--organisation", AGB, "--mode", "production", "--peildatum", "2026-11-22"],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 120
        while not Path(f"{pause}.reached").exists():
            assert process.poll() is None, process.communicate()
            assert time.monotonic() < deadline, "the import never reached its pause point"
            time.sleep(0.05)
        process.send_signal(signal.SIGINT)
        out, err = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()

    assert process.returncode == 130
    assert "Traceback" not in err
    assert "Aanlevering 1 is gestopt (Ctrl-C); er is niets opgeslagen." in err
    assert "opnieuw aan met hetzelfde commando" in err
    (listed,) = json.loads(run("uploads", "--format", "json")[1])
    assert listed["status"] == "stopped"
    assert "gestopt" in run("uploads")[1]
    assert registry.held().height == 0
    assert not any((registry.settings.home / "uploads").iterdir())  # the file is not kept
    # Resuming is submitting the same file again; the stopped upload is not in its way.
    code, out, _ = submit(registry, str(path), "--mode", "production", "--format", "json")
    assert code == 0
    assert json.loads(out)["summary"]["stored"]["new"] == 300


def test_ctrl_c_while_the_stage1_file_is_made_says_nothing_was_sent(
    registry: Registry, monkeypatch: pytest.MonkeyPatch
):
    from zorgbroker.pseudonymisation import source_side

    made: list[Path] = []

    def interrupted(export: Path, dataset: str, output: Path, **kwargs: object) -> object:
        output.write_bytes(b"half")
        made.append(output)
        raise KeyboardInterrupt

    monkeypatch.setattr(source_side, "make_stage1", interrupted)

    code, _, err = submit(registry, str(registry.nhr_file([nhr_row()])), "--mode", "production")

    assert code == 130
    assert "Gestopt (Ctrl-C) terwijl het stap-1-bestand werd gemaakt" in err
    assert not made[0].parent.exists()  # the source's temporary folder is gone
    assert registry.service().list() == []  # nothing reached the registry
