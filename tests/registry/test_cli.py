"""`zorgbroker devices` as a user runs them."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from tests.registry.conftest import AGB, Registry, explant, nhr_row
from zorgbroker.cli import app


def run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(app, list(args))
    return result.exit_code, result.stdout, result.stderr


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
