"""MedMij's ZAL, OCL and GNL read as XML and checked against their schemas: the demo lists, and
a Dutch message naming file, line and element for each kind of broken list."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from zorgbroker.fhir.cli import fhir_app
from zorgbroker.fhir.oauth.lists import (
    DEMO_LISTS,
    ListError,
    read_gnl,
    read_lists,
    read_ocl,
    read_zal,
)
from zorgbroker.settings import get_settings


def test_the_demo_lists() -> None:
    lists = read_lists(DEMO_LISTS)
    practice = lists.providers["praktijk@medmij"]
    assert practice.scope_name == "praktijk"
    assert set(practice.data_services) == {"1", "3", "24"}
    assert practice.data_services["24"].token_endpoint.startswith("https://")
    assert lists.clients == {
        "pgo.voorbeeld.nl": "Voorbeeld PGO",
        "andere-pgo.voorbeeld.nl": "Andere PGO",
    }
    assert lists.data_service_names["24"] == "Basisgegevens GGZ"
    assert lists.data_service_names["3"] == "Medicatiegegevens"
    assert lists.data_service_names["1"] == "BgZ"


def broken(tmp_path: Path, name: str, old: str, new: str) -> Path:
    path = tmp_path / name
    text = (DEMO_LISTS / name).read_text()
    assert old in text
    path.write_text(text.replace(old, new, 1))
    return path


@pytest.mark.parametrize(
    ("name", "old", "new", "element", "says"),
    [
        ("ocl.xml", "<Hostname>pgo.voorbeeld.nl", "<Hostname>PGO_X", "Hostname", "vorm"),
        (
            "ocl.xml",
            "<OAuthclientOrganisatienaam>Andere PGO</OAuthclientOrganisatienaam>",
            "",
            "OAuthclient",
            "ontbreekt (OAuthclientOrganisatienaam)",
        ),
        (
            "ocl.xml",
            "<Hostname>andere-pgo.voorbeeld.nl",
            "<Hostname>pgo.voorbeeld.nl",
            "OAuthclient",
            "twee keer",
        ),
        (
            "zal.xml",
            "<AuthorizationEndpointuri>https://",
            "<AuthorizationEndpointuri>http://",
            "AuthorizationEndpointuri",
            "vorm",
        ),
        ("zal.xml", "<Volgnummer>1</Volgnummer>", "", "Zorgaanbieders", "hoort hier niet"),
        (
            "zal.xml",
            "<Zorgaanbiedernaam>praktijk@medmij",
            "<Zorgaanbiedernaam>praktijk",
            "Zorgaanbiedernaam",
            "vorm",
        ),
        ("gnl.xml", "<GegevensdienstId>24<", "<GegevensdienstId>3<", "Gegevensdienst", "twee"),
        ("gnl.xml", "<Weergavenaam>BgZ</Weergavenaam>", "", "Gegevensdienst", "ontbreekt"),
    ],
)
def test_a_list_that_breaks_its_schema_is_refused_naming_file_and_element(
    tmp_path: Path, name: str, old: str, new: str, element: str, says: str
) -> None:
    path = broken(tmp_path, name, old, new)
    reader = {"zal.xml": read_zal, "ocl.xml": read_ocl, "gnl.xml": read_gnl}[name]
    with pytest.raises(ListError) as refused:
        reader(path)
    message = str(refused.value)
    assert message.startswith(f"{name}: ")
    assert "klopt niet met het schema" in message and "regel " in message
    assert f"element {element}:" in message
    assert says in message


def test_not_xml_and_the_wrong_list(tmp_path: Path) -> None:
    garbled = tmp_path / "zal.xml"
    garbled.write_text("<Zorgaanbiederslijst>")
    with pytest.raises(ListError, match=r"^zal\.xml: geen geldige XML \(regel 1\)"):
        read_zal(garbled)
    with pytest.raises(ListError, match="niet het verwachte soort lijst"):
        read_zal(DEMO_LISTS / "gnl.xml")
    with pytest.raises(ListError, match=r"^ocl\.xml: kan de OAuth-clientlijst niet lezen"):
        read_ocl(tmp_path / "ocl.xml")


def test_an_entity_is_not_expanded(tmp_path: Path) -> None:
    """A list from elsewhere cannot make the server read a local file (XXE)."""
    secret = tmp_path / "geheim.txt"
    secret.write_text("geheim")
    path = tmp_path / "gnl.xml"
    text = (DEMO_LISTS / "gnl.xml").read_text()
    doctype = f'<!DOCTYPE x [<!ENTITY g SYSTEM "file://{secret}">]>\n<Gegevensdienstnamenlijst'
    path.write_text(text.replace("<Gegevensdienstnamenlijst", doctype, 1).replace(">BgZ<", ">&g;<"))
    with pytest.raises(ListError, match=r"^gnl.xml: een DOCTYPE is .* niet toegestaan"):
        read_gnl(path)


def test_the_commands_name_a_broken_configured_list(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    lists = tmp_path / "lijsten"
    shutil.copytree(DEMO_LISTS, lists)
    broken(lists, "ocl.xml", "<Hostname>pgo.voorbeeld.nl", "<Hostname>PGO_X")
    monkeypatch.setenv("ZORGBROKER_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("ZORGBROKER_MEDMIJ_LISTS_DIR", str(lists))
    get_settings(fresh=True)
    result = CliRunner().invoke(fhir_app, ["client-secret", "pgo.voorbeeld.nl"])
    assert result.exit_code == 1
    assert "ocl.xml" in result.output and "element Hostname" in result.output
    assert "Traceback" not in result.output

    monkeypatch.delenv("ZORGBROKER_MEDMIJ_LISTS_DIR")
    get_settings(fresh=True)
    unknown = CliRunner().invoke(fhir_app, ["client-secret", "onbekend.voorbeeld.nl"])
    assert unknown.exit_code != 0 and "niet op de OAuth-clientlijst" in unknown.output
    made = CliRunner().invoke(fhir_app, ["client-secret", "pgo.voorbeeld.nl"])
    assert made.exit_code == 0 and len(made.stdout.strip()) >= 40


@pytest.mark.postgres
def test_serve_names_a_broken_list_before_listening(tmp_path: Path) -> None:
    import os
    import subprocess
    import sys

    from tests.registry.conftest import new_postgres_database

    lists = tmp_path / "lijsten"
    shutil.copytree(DEMO_LISTS, lists)
    broken(lists, "zal.xml", "<TokenEndpointuri>https://", "<TokenEndpointuri>http://")
    with new_postgres_database() as url:
        env = {
            **os.environ,
            "ZORGBROKER_HOME": str(tmp_path / "home"),
            "ZORGBROKER_DATABASE_URL": url,
            "ZORGBROKER_PORTAL_URL": "https://portaal.example.nl",
            "ZORGBROKER_MEDMIJ_LISTS_DIR": str(lists),
        }
        done = subprocess.run(
            [sys.executable, "-m", "zorgbroker", "serve", "--port", "1"],
            env=env, capture_output=True, text=True, timeout=120,
        )  # fmt: skip
    assert done.returncode == 3
    assert "zal.xml" in done.stderr and "element TokenEndpointuri" in done.stderr
    assert "Traceback" not in done.stderr
