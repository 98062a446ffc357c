"""Usage errors of the real command are Dutch: Click's English never reaches the user."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.cli.conftest import zorgbroker
from tests.cli.test_help import ENGLISH


@pytest.mark.parametrize(
    ("args", "usage", "error"),
    [
        (["check", "x.csv"], "zorgbroker check [OPTIES] BESTAND",
         "optie --dataset / -d ontbreekt"),
        (["check", "x.csv", "-d", "nhr-pmicd", "-f", "pdf"], "zorgbroker check",
         "ongeldige waarde voor --format / -f: 'pdf' is geen van text, json, xlsx"),
        (["check", "x.csv", "--formaat", "json"], "zorgbroker check",
         "onbekende optie --formaat; bedoelt u --format of --organisation?"),
        (["check", "a.csv", "b.csv", "-d", "nhr-pmicd"], "zorgbroker check",
         "onverwacht argument: b.csv"),
        (["chek"], "zorgbroker [OPTIES] OPDRACHT", "onbekende opdracht 'chek'; bedoelt u 'check'?"),
        (["ttp", "reid-aprove"], "zorgbroker ttp [OPTIES] OPDRACHT",
         "onbekende opdracht 'reid-aprove'; bedoelt u 'reid-approve'?"),
        (["generate", "nhr-pmicd", "--rows", "veel"], "zorgbroker generate [OPTIES] DATASET",
         "ongeldige waarde voor --rows: 'veel' is geen geheel getal"),
        (["worker", "--concurrency", "0"], "zorgbroker worker",
         "ongeldige waarde voor --concurrency / -c: '0' moet minstens 1 zijn"),
        (["submit", "x.csv", "-d", "nhr-pmicd", "--organisation", "12345678"], "zorgbroker submit",
         "optie --mode / -m ontbreekt (kies uit test, production)"),
        (["mail", "drie"], "zorgbroker mail [OPTIES] [NUMMER]",
         "ongeldige waarde voor NUMMER: 'drie' is geen geheel getal"),
    ],
)  # fmt: skip
def test_a_usage_error_is_dutch(args: list[str], usage: str, error: str) -> None:
    done = zorgbroker(*args)
    assert done.returncode == 2
    lines = done.stderr.splitlines()
    assert lines[0].startswith(f"Gebruik: {usage}"), done.stderr
    assert lines[-1] == f"Fout: {error}"
    assert not [word for word in ENGLISH if word in done.stderr]


def test_a_missing_file_is_named_in_dutch(tmp_path: Path) -> None:
    missing = tmp_path / "weg.txt"
    done = zorgbroker(
        "ttp", "reid-request", "--registry", "nhr", "--reason", "terugroepactie",
        "--pseudonyms", str(missing), "--requested-by", "register",
    )  # fmt: skip
    assert done.returncode == 2
    assert done.stderr.splitlines()[-1] == (
        f"Fout: ongeldige waarde voor --pseudonyms: '{missing}' bestaat niet"
    )


def test_an_option_without_its_value_is_named() -> None:
    done = zorgbroker("check", "x.csv", "--dataset")
    assert (done.returncode, done.stderr.strip()) == (
        2,
        "Fout: optie --dataset heeft een waarde nodig",
    )


def test_zorgbroker_without_a_command_shows_the_dutch_help() -> None:
    done = zorgbroker()
    assert done.returncode == 2
    assert done.stderr.startswith("Gebruik: zorgbroker [OPTIES] OPDRACHT")
