"""`GET /aanleveren/sleutel/{registry}`: the portal relays a signed-in uploader's wrapped source
key from the TTP (a real TTP service on loopback, its own home), and nothing more.

The whole way: the TTP officer enrols the uploader (`zorgbroker ttp enrol`, the mail lands in the
TTP's mailbox folder), the uploader sets the TTP password on the TTP's page, signs in to the
portal, and fetches the wrapping, which the password opens to the project key. The registry's
side (its database, its log, its answers) is then searched for the password and the key."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from email import message_from_bytes
from email.message import EmailMessage
from email.policy import default
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from tests.accounts.conftest import demo_sqlite_engine, standin_services
from tests.portal.conftest import ORIGIN, SYSTEM
from tests.portal.test_story import form_post
from zorgbroker.accounts.models import ORGANISATION_ADMIN, UPLOADER
from zorgbroker.accounts.services import AccountServices
from zorgbroker.accounts.standins import FrozenClock, MemoryMailer
from zorgbroker.platform.demo import DEMO_POLICY
from zorgbroker.portal.app import create_app
from zorgbroker.pseudonymisation.cli import ttp_app
from zorgbroker.pseudonymisation.client import HttpTTP
from zorgbroker.pseudonymisation.custody import key_material
from zorgbroker.pseudonymisation.keywrap import WrappedKey, WrongPassword, unwrap_key
from zorgbroker.pseudonymisation.service import serving
from zorgbroker.pseudonymisation.ttp import TrustedThirdParty

HOSPITAL_AGB = "01234567"
UPLOADER_EMAIL = "datamanager@rivierenland.example.nl"
COLLEAGUE_EMAIL = "collega@rivierenland.example.nl"
PRACTICE_EMAIL = "fysio@debrug.example.nl"
SIGN_IN = "vlinder kompas regenjas toren"
TTP_PASSWORD = "Grachtenpand-kwartel-zeilboot-58"


@dataclass
class Setting:
    ttp_home: Path
    registry_home: Path
    ttp_url: str
    services: AccountServices
    app: object
    mailer: MemoryMailer

    def client(self) -> TestClient:
        return TestClient(self.app, base_url=ORIGIN, follow_redirects=False)  # type: ignore[arg-type]

    def account(self, organisation: int, email: str, roles: tuple[str, ...] = (UPLOADER,)) -> None:
        self.services.accounts.invite(None, organisation, email, "Daan de Vries", roles, SYSTEM)
        token = self.mailer.last_to(email).body.split("/uitnodiging/")[1].split()[0]
        self.services.accounts.accept_invitation(token, SIGN_IN, SYSTEM)

    def signed_in(self, email: str) -> TestClient:
        client = self.client()
        page = client.get("/aanmelden")
        answer = form_post(client, "/aanmelden", page.text, email=email, password=SIGN_IN)
        assert answer.status_code == 303 and answer.headers["location"] == "/", answer.text
        return client

    def enrol_and_set(self, email: str, organisation: str, password: str = TTP_PASSWORD) -> None:
        """The TTP officer's command, the mail in the TTP's mailbox, the TTP's page."""
        done = CliRunner().invoke(
            ttp_app,
            ["enrol", "--email", email, "--organisation", organisation, "--registry", "nhr",
             "--ttp-adres", self.ttp_url],
            env={"ZORGBROKER_HOME": str(self.ttp_home), "ZORGBROKER_SMTP_HOST": ""},
        )  # fmt: skip
        assert done.exit_code == 0, done.output
        newest = sorted((self.ttp_home / "mailbox").glob("*.eml"))[-1]
        mail = message_from_bytes(newest.read_bytes(), _class=EmailMessage, policy=default)
        assert isinstance(mail, EmailMessage) and mail["To"] == email
        link = re.search(r"http://\S+/wachtwoord/\S+", mail.get_content())
        assert link, "the mail holds the link"
        form = {"wachtwoord": password, "herhaling": password}
        assert httpx.post(link.group(0), data=form).status_code == 200


@pytest.fixture
def setting(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Setting]:
    registry_home = tmp_path / "registry"
    registry_home.mkdir()
    monkeypatch.setenv("ZORGBROKER_HOME", str(registry_home))  # the portal's log goes here
    ttp_home = tmp_path / "ttp-machine"
    ttp = TrustedThirdParty(ttp_home)
    ttp.init()
    token = ttp.add_source(HOSPITAL_AGB)  # the registry's token at the TTP
    engine = demo_sqlite_engine(registry_home / "portal.db")
    mailer = MemoryMailer()
    services = standin_services(engine, FrozenClock(), mailer, base_url=ORIGIN)
    with serving(ttp_home) as url, HttpTTP(url, token) as relay:
        app = create_app(services, origin=ORIGIN, source_keys=relay)
        yield Setting(ttp_home, registry_home, url, services, app, mailer)
    engine.dispose()


def test_the_uploader_gets_their_wrapping_and_the_password_opens_it(
    setting: Setting, capfd: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> None:
    hospital = setting.services.accounts.create_organisation(
        f"Ziekenhuis Rivierenland (AGB {HOSPITAL_AGB})", DEMO_POLICY, agb=HOSPITAL_AGB
    )
    setting.account(hospital, UPLOADER_EMAIL)
    setting.enrol_and_set(UPLOADER_EMAIL, HOSPITAL_AGB)
    client = setting.signed_in(UPLOADER_EMAIL)

    answer = client.get("/aanleveren/sleutel/nhr")
    assert answer.status_code == 200
    assert answer.headers["cache-control"] == "no-store"
    blob = answer.json()
    assert {"wrapped", "salt", "iterations", "iv"} <= blob.keys()
    assert blob["email"] == UPLOADER_EMAIL and blob["organisation"] == HOSPITAL_AGB
    key = unwrap_key(WrappedKey.from_json(blob), TTP_PASSWORD)
    assert (setting.ttp_home / "ttp" / "keys" / "source-nhr.key").read_bytes() == key
    with pytest.raises(WrongPassword):
        unwrap_key(WrappedKey.from_json(blob), SIGN_IN)  # the portal password is not it

    # Nothing on the registry's side holds the password or the key: its files (database, log),
    # what it printed or logged, nor what it answered.
    secrets = [TTP_PASSWORD.encode(), *key_material(setting.ttp_home)]
    secrets = [s for s in secrets if len(s) > 8]
    held = b"".join(p.read_bytes() for p in setting.registry_home.rglob("*") if p.is_file())
    held += answer.content + client.get("/").content
    printed = capfd.readouterr()
    held += (printed.out + printed.err + caplog.text).encode()
    assert [s for s in secrets if s in held] == []


def test_no_wrapping_for_a_user_the_ttp_did_not_enrol(setting: Setting) -> None:
    hospital = setting.services.accounts.create_organisation(
        f"Ziekenhuis Rivierenland (AGB {HOSPITAL_AGB})", DEMO_POLICY, agb=HOSPITAL_AGB
    )
    setting.account(hospital, UPLOADER_EMAIL)
    setting.account(hospital, COLLEAGUE_EMAIL)
    setting.enrol_and_set(UPLOADER_EMAIL, HOSPITAL_AGB)
    colleague = setting.signed_in(COLLEAGUE_EMAIL)
    answer = colleague.get("/aanleveren/sleutel/nhr")
    assert answer.status_code == 404
    assert "vraag de TTP om een link" in answer.json()["detail"]
    assert UPLOADER_EMAIL.encode() not in answer.content
    # There is no way to name another user: the address is the signed-in user's own.
    assert colleague.get(f"/aanleveren/sleutel/nhr?email={UPLOADER_EMAIL}").status_code == 404


def test_no_wrapping_for_a_user_of_another_organisation(setting: Setting) -> None:
    """Enrolled at the TTP for the hospital, but the portal account is the practice's: the
    wrapping is bound to the hospital, so it is not given."""
    practice = setting.services.accounts.create_organisation(
        "Fysiotherapie De Brug (AGB 04000012)", DEMO_POLICY, agb="04000012"
    )
    setting.account(practice, PRACTICE_EMAIL)
    setting.enrol_and_set(PRACTICE_EMAIL, HOSPITAL_AGB)
    answer = setting.signed_in(PRACTICE_EMAIL).get("/aanleveren/sleutel/nhr")
    assert answer.status_code == 404 and "wrapped" not in answer.json()


def test_only_a_signed_in_uploader_may_ask(setting: Setting) -> None:
    hospital = setting.services.accounts.create_organisation(
        f"Ziekenhuis Rivierenland (AGB {HOSPITAL_AGB})", DEMO_POLICY, agb=HOSPITAL_AGB
    )
    setting.account(hospital, UPLOADER_EMAIL, roles=(ORGANISATION_ADMIN,))
    setting.enrol_and_set(UPLOADER_EMAIL, HOSPITAL_AGB)
    assert setting.client().get("/aanleveren/sleutel/nhr").status_code == 401
    admin_only = setting.signed_in(UPLOADER_EMAIL).get("/aanleveren/sleutel/nhr")
    assert admin_only.status_code == 403 and "aanleveraar" in admin_only.json()["detail"]


def test_a_ttp_that_is_down_is_said_in_dutch(setting: Setting) -> None:
    hospital = setting.services.accounts.create_organisation(
        f"Ziekenhuis Rivierenland (AGB {HOSPITAL_AGB})", DEMO_POLICY, agb=HOSPITAL_AGB
    )
    setting.account(hospital, UPLOADER_EMAIL)
    with HttpTTP("http://127.0.0.1:9", "x.y") as unreachable:
        setting.app.state.source_keys = unreachable  # type: ignore[attr-defined]
        answer = setting.signed_in(UPLOADER_EMAIL).get("/aanleveren/sleutel/nhr")
    assert answer.status_code == 503 and "niet bereikbaar" in answer.json()["detail"]
