"""The audit log's hash chain: any edited, removed or reordered entry is found."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from zorgbroker.pseudonymisation.cli import ttp_app
from zorgbroker.pseudonymisation.ttp import TrustedThirdParty


@pytest.fixture
def logged(ttp: TrustedThirdParty) -> TrustedThirdParty:
    for n in range(5):
        ttp.audit.append("proef", "test", {"n": n})
    return ttp  # entries: 1 = ttp-aangemaakt, 2..6 = proef


def _lines(ttp: TrustedThirdParty) -> list[str]:
    return ttp.audit.path.read_text(encoding="utf-8").splitlines(keepends=True)


def _write(ttp: TrustedThirdParty, lines: list[str]) -> None:
    ttp.audit.path.write_text("".join(lines), encoding="utf-8")


def test_an_untouched_log_verifies(logged: TrustedThirdParty) -> None:
    result = logged.audit.verify()
    assert result.intact and result.entries == 6


@pytest.mark.parametrize("index", range(6))
def test_editing_any_entry_is_found(logged: TrustedThirdParty, index: int) -> None:
    lines = _lines(logged)
    entry = json.loads(lines[index])
    entry["actor"] = "iemand anders"
    lines[index] = json.dumps(entry) + "\n"
    _write(logged, lines)
    result = logged.audit.verify()
    assert not result.intact and result.first_bad == index + 1


@pytest.mark.parametrize("index", range(6))
def test_removing_any_entry_is_found(logged: TrustedThirdParty, index: int) -> None:
    lines = _lines(logged)
    del lines[index]
    _write(logged, lines)
    result = logged.audit.verify()
    assert not result.intact and result.first_bad == index + 1


def test_swapping_entries_is_found(logged: TrustedThirdParty) -> None:
    lines = _lines(logged)
    lines[2], lines[3] = lines[3], lines[2]
    _write(logged, lines)
    assert logged.audit.verify().first_bad == 3


def test_rewriting_the_head_is_found(logged: TrustedThirdParty) -> None:
    lines = _lines(logged)
    _write(logged, lines[:-1])
    last = json.loads(lines[-2])
    head = json.loads(logged.audit.head_path.read_text())
    head.update(seq=last["seq"], mac=last["mac"])
    logged.audit.head_path.write_text(json.dumps(head))
    assert not logged.audit.verify().intact


def test_audit_verify_command_exit_status(logged: TrustedThirdParty, home: Path) -> None:
    runner = CliRunner()
    env = {"ZORGBROKER_HOME": str(home)}
    ok = runner.invoke(ttp_app, ["audit-verify"], env=env)
    assert ok.exit_code == 0 and "intact" in ok.output
    lines = _lines(logged)
    lines[3] = lines[3].replace('"n":2', '"n":9')
    _write(logged, lines)
    broken = runner.invoke(ttp_app, ["audit-verify"], env=env)
    assert broken.exit_code == 1
    assert "regel is 4" in broken.output


def test_appends_from_two_handles_keep_one_chain(ttp: TrustedThirdParty) -> None:
    other = TrustedThirdParty(ttp.home)
    for n in range(10):
        (ttp if n % 2 else other).audit.append("proef", "test", {"n": n})
    assert ttp.audit.verify().intact
