"""The `zorgbroker ttp` commands, as an operator uses them."""

from __future__ import annotations

from pathlib import Path

import polars as pl
from typer.testing import CliRunner

from tests.pseudonymisation.conftest import BSNS
from zorgbroker.pseudonymisation.cli import ttp_app
from zorgbroker.pseudonymisation.pipeline import Pseudonymiser


def _token(output: str) -> str:
    return output.strip().splitlines()[-1]


def test_reidentification_from_the_command_line(home: Path, tmp_path: Path) -> None:
    runner = CliRunner()
    env = {"ZORGBROKER_HOME": str(home)}
    assert runner.invoke(ttp_app, ["init"], env=env).exit_code == 0
    anna = _token(runner.invoke(ttp_app, ["officer-add", "anna"], env=env).output)
    bram = _token(runner.invoke(ttp_app, ["officer-add", "bram"], env=env).output)
    p = Pseudonymiser.for_mode("production", registry="nhr", source="11111111", home=home)
    listing = tmp_path / "dragers.txt"
    listing.write_text("\n".join(str(x) for x in p.pseudonymise(pl.Series(BSNS)).to_list()))

    made = runner.invoke(
        ttp_app,
        [
            "reid-request",
            "--registry",
            "nhr",
            "--reason",
            "terugroepactie",
            "--pseudonyms",
            str(listing),
            "--requested-by",
            "nhr-analist",
        ],
        env=env,
    )
    assert made.exit_code == 0, made.output
    request = made.output.split()[1]

    first = runner.invoke(
        ttp_app, ["reid-approve", request], env={**env, "ZORGBROKER_OFFICER_TOKEN": anna}
    )
    assert first.exit_code == 0 and "tweede" in first.output
    again = runner.invoke(
        ttp_app, ["reid-approve", request], env={**env, "ZORGBROKER_OFFICER_TOKEN": anna}
    )
    assert again.exit_code == 1 and "Fout:" in again.output and "Traceback" not in again.output
    early = runner.invoke(ttp_app, ["reid-resolve", request, "--token", anna], env=env)
    assert early.exit_code == 1

    second = runner.invoke(ttp_app, ["reid-approve", request, "--token", bram], env=env)
    assert second.exit_code == 0 and "goedgekeurd" in second.output
    done = runner.invoke(ttp_app, ["reid-resolve", request, "--token", bram], env=env)
    assert done.exit_code == 0, done.output
    assert "11111111: 4 patiënten" in done.output
    assert not any(b in done.output for b in BSNS)

    verified = runner.invoke(ttp_app, ["audit-verify"], env=env)
    assert verified.exit_code == 0


def test_refuse_and_fingerprints(home: Path, tmp_path: Path) -> None:
    runner = CliRunner()
    env = {"ZORGBROKER_HOME": str(home)}
    runner.invoke(ttp_app, ["init", "--registry", "nhr"], env=env)
    anna = _token(runner.invoke(ttp_app, ["officer-add", "anna"], env=env).output)
    p = Pseudonymiser.for_mode("production", registry="nhr", source="1", home=home)
    listing = tmp_path / "p.txt"
    listing.write_text(str(p.pseudonymise(pl.Series(BSNS[:1]))[0]))
    made = runner.invoke(
        ttp_app,
        [
            "reid-request",
            "--registry",
            "nhr",
            "--reason",
            "x",
            "--pseudonyms",
            str(listing),
            "--requested-by",
            "r",
        ],
        env=env,
    )
    request = made.output.split()[1]
    refused = runner.invoke(
        ttp_app, ["reid-refuse", request, "--token", anna, "--reason", "geen grondslag"], env=env
    )
    assert refused.exit_code == 0 and "afgewezen" in refused.output
    shown = runner.invoke(ttp_app, ["fingerprints"], env=env)
    assert shown.exit_code == 0 and "registry-nhr-k1" in shown.output
    rotated = runner.invoke(ttp_app, ["rotate-key", "--registry", "nhr"], env=env)
    assert rotated.exit_code == 0 and "k2" in rotated.output


def test_a_request_with_a_bad_pseudonym_is_a_dutch_error(home: Path, tmp_path: Path) -> None:
    listing = tmp_path / "p.txt"
    listing.write_text("123456782\n")
    result = CliRunner().invoke(
        ttp_app,
        [
            "reid-request",
            "--registry",
            "nhr",
            "--reason",
            "x",
            "--pseudonyms",
            str(listing),
            "--requested-by",
            "r",
        ],
        env={"ZORGBROKER_HOME": str(home)},
    )
    assert result.exit_code == 1 and "Regel 1" in result.output
    assert "123456782" not in result.output
