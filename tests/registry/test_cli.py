"""`zorgbroker submit`, `uploads`, `report` and `devices` as a user runs them."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from tests.registry.conftest import AGB, OTHER_AGB, Registry, explant, nhr_row
from zorgbroker.cli import app


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


def test_devices_lists_carriers_without_the_explanted_and_logs_the_access(registry: Registry):
    b = nhr_row(bsn="123456782", serienummer="XYZ98765", lead1_serienummer="L9001",
                lead2_serienummer="L9002", centrum_agb=AGB)  # fmt: skip
    registry.submit([nhr_row(), b])
    registry.submit([explant()])  # patient A's device comes out

    code, out, _ = run("devices", "--udi-di", "00614141999996", "--format", "json",
                       "--on-behalf-of", "IGJ terugroepactie")  # fmt: skip

    assert code == 0
    carriers = json.loads(out)
    held = registry.held()
    b_pseudonym = held.filter(held["serienummer"] == "XYZ98765")["bsn"][0]
    assert [(c["pseudonym"], c["centre"], c["serial"], c["model"]) for c in carriers] == [
        (b_pseudonym, AGB, "XYZ98765", "00614141999996")
    ]
    logged = registry.scalar(
        "SELECT COUNT(*) FROM access_log WHERE action = 'implantaat-opvraging' "
        f"AND subject = '{b_pseudonym}' AND on_behalf_of = 'IGJ terugroepactie'"
    )
    assert logged == 1
    code, out, _ = run("devices", "--serial", "L1234", "--format", "json")
    assert json.loads(out) == []  # the explant named this lead too
    assert (
        registry.scalar(
            "SELECT COUNT(*) FROM access_log WHERE subject IS NULL AND detail = 'serienummer=L1234'"
        )
        == 1
    )
    code, text, _ = run("devices", "--serial", "XYZ98765")
    assert code == 0
    assert "XYZ98765" in text
    code, _, err = run("devices")
    assert "--udi-di" in err
    assert code == 2


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


def test_devices_finds_the_carriers_whatever_form_the_udi_di_is_typed_or_scanned_in(
    registry: Registry,
):
    registry.submit([nhr_row(bsn="123456782", serienummer="XYZ98765")])
    held = registry.held()
    pseudonym = held["bsn"][0]

    for typed in ("0614141999996", "(01)00614141999996", "]d20100614141999996\x1d21XYZ98765"):
        code, out, err = run("devices", "--udi-di", typed, "--format", "json")
        assert (code, err) == (0, "")
        assert [(c["pseudonym"], c["serial"]) for c in json.loads(out)] == [(pseudonym, "XYZ98765")]
    code, out, _ = run("devices", "--udi-di", "(01)00614141999996(21)OTHER1", "--format", "json")
    assert json.loads(out) == []  # the scanned serial narrows the model down

    before = registry.scalar("SELECT COUNT(*) FROM access_log")
    code, out, err = run("devices", "--udi-di", "0614141999997")
    assert code == 2
    assert "controlecijfer klopt niet" in err
    assert "Niemand" not in out  # a typo is not an all-clear for a recall
    assert registry.scalar("SELECT COUNT(*) FROM access_log") == before  # nothing was looked up
