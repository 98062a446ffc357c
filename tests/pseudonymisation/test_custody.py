"""Key custody: keys only in the TTP's folder with mode 0600, never on the registry side."""

from __future__ import annotations

import sqlite3
import stat
from pathlib import Path

import polars as pl
import pytest
from typer.testing import CliRunner

from tests.pseudonymisation.conftest import BSNS
from zorgbroker.pseudonymisation.cli import ttp_app
from zorgbroker.pseudonymisation.custody import KeyCustodyError, key_material, zorgbroker_home
from zorgbroker.pseudonymisation.pipeline import Pseudonymiser
from zorgbroker.pseudonymisation.service import serving
from zorgbroker.pseudonymisation.ttp import TrustedThirdParty


def test_init_creates_private_keys_and_prints_only_fingerprints(home: Path) -> None:
    result = CliRunner().invoke(
        ttp_app, ["init", "--registry", "nhr"], env={"ZORGBROKER_HOME": str(home)}
    )
    assert result.exit_code == 0, result.output
    keys = sorted((home / "ttp" / "keys").glob("*.key"))
    assert {k.name for k in keys} >= {"audit.key", "seal.key", "registry-nhr-k1.key"}
    for key in keys:
        assert stat.S_IMODE(key.stat().st_mode) == 0o600
    assert stat.S_IMODE((home / "ttp").stat().st_mode) == 0o700
    assert "registry-nhr-k1" in result.output
    assert not any(m.decode("latin-1") in result.output for m in key_material(home))


def test_a_key_readable_by_others_is_refused(ttp: TrustedThirdParty) -> None:
    (ttp.root / "keys" / "audit.key").chmod(0o644)
    with pytest.raises(KeyCustodyError, match="0600"):
        TrustedThirdParty(ttp.home).audit.append("x", "y", {})


def test_home_defaults_to_a_per_user_folder(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("ZORGBROKER_HOME", raising=False)
    monkeypatch.setenv("XDG_DATA_HOME", "/srv/data")
    assert zorgbroker_home() == Path("/srv/data/zorgbroker")
    monkeypatch.setenv("ZORGBROKER_HOME", "/elders")
    assert zorgbroker_home() == Path("/elders")


def _registry_side(home: Path, url: str, token: str, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A registry run in its own folder: pseudonymise through the service, store the result
    in its database and a log file, as the registry does."""
    monkeypatch.setenv("ZORGBROKER_TTP_URL", url)
    monkeypatch.setenv("ZORGBROKER_TTP_TOKEN", token)
    registry = home / "registry-side"
    registry.mkdir()
    p = Pseudonymiser.for_mode("production", registry="nhr", source="12345678", home=registry)
    frame = pl.DataFrame({"bsn": BSNS, "geslacht": ["M", "V", "X", "O"]})
    stored = frame.with_columns(p.pseudonymise(frame["bsn"]))
    with sqlite3.connect(registry / "registry.sqlite3") as db:
        db.execute("CREATE TABLE patients (pseudonym TEXT, geslacht TEXT)")
        db.executemany("INSERT INTO patients VALUES (?, ?)", stored.rows())
    (registry / "intake.log").write_text(repr(p.fingerprints()), encoding="utf-8")
    stored.write_parquet(registry / "accepted.parquet")
    return registry


def test_the_registry_side_holds_no_ttp_key_and_no_bsn(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    ttp_home = tmp_path / "ttp-installation"
    ttp = TrustedThirdParty(ttp_home)
    ttp.init(["nhr"])
    token = ttp.add_source("12345678")
    with serving(ttp_home) as url:
        registry = _registry_side(tmp_path, url, token, monkeypatch)
    forbidden = key_material(ttp_home) + [b.encode() for b in BSNS]
    keys = sorted(p.name for p in (ttp_home / "ttp" / "keys").glob("*.key"))
    assert keys == ["audit.key", "registry-nhr-k1.key", "reid-nhr.key", "seal.key"]
    assert all(p.read_bytes() in forbidden for p in (ttp_home / "ttp" / "keys").glob("*.key"))
    files = [p for p in registry.rglob("*") if p.is_file()]
    assert files
    for path in files:
        if path.is_relative_to(registry / "source"):
            continue  # the source side of this installation (stage 1), not the registry
        content = path.read_bytes()
        for needle in forbidden:
            assert needle not in content, f"{path.name} holds forbidden material"
