"""A source user's TTP password, end to end at the TTP: the officer enrols them from the command
line, the link arrives by real SMTP, the user sets the password on the TTP's own page, and the
TTP service hands the wrapping (only) to a token holder asking for exactly that user."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner

from tests.mail.conftest import SmtpServer, smtp_server, smtp_settings
from zorgbroker.pseudonymisation.cli import ttp_app
from zorgbroker.pseudonymisation.client import HttpTTP
from zorgbroker.pseudonymisation.custody import KeyCustodyError, key_material, source_key
from zorgbroker.pseudonymisation.enrolment import LINK_VALID, SourceKeyCustody
from zorgbroker.pseudonymisation.errors import NotAuthorised, RateLimited
from zorgbroker.pseudonymisation.keywrap import WrappedKey, WrongPassword, unwrap_key
from zorgbroker.pseudonymisation.service import serving
from zorgbroker.pseudonymisation.ttp import TrustedThirdParty
from zorgbroker.pseudonymisation.ttp_pages import KEY_LIMITS

__all__ = ["smtp_server"]  # the fixture, shared with tests/mail

EMAIL = "datamanager@rivierenland.example.nl"
AGB = "01234567"
PASSWORD = "Grachtenpand-kwartel-zeilboot-58"
LINK = re.compile(r"(http://\S+/wachtwoord/\S+)")


@dataclass
class Clock:
    now: dt.datetime

    def __call__(self) -> dt.datetime:
        return self.now


@dataclass
class LiveTTP:
    home: Path
    url: str
    clock: Clock
    token: str

    def enrol(self, smtp: SmtpServer, email: str = EMAIL, organisation: str = AGB) -> str:
        """`zorgbroker ttp enrol` as the officer runs it; the link from the mail it sent."""
        env = {"ZORGBROKER_HOME": str(self.home), "ZORGBROKER_MAIL_FROM": "ttp@example.nl"}
        env |= {f"ZORGBROKER_{k.upper()}": v for k, v in smtp_settings(smtp).items()}
        done = CliRunner().invoke(
            ttp_app,
            ["enrol", "--email", email, "--organisation", organisation, "--registry", "nhr",
             "--ttp-adres", self.url],
            env=env,
        )  # fmt: skip
        assert done.exit_code == 0, done.output
        assert "ingeschreven" in done.output
        message = smtp.inbox.messages[-1]
        assert smtp.inbox.recipients[-1] == [email]
        found = LINK.search(message.get_content())
        assert found, "the mail holds the link"
        return found.group(1)


@pytest.fixture
def live(tmp_path: Path) -> Iterator[LiveTTP]:
    home = tmp_path / "home"
    ttp = TrustedThirdParty(home)
    ttp.init()
    token = ttp.add_source(AGB)
    clock = Clock(dt.datetime.now(dt.UTC))  # the command line enrols on the real clock
    with serving(home, custody=SourceKeyCustody(TrustedThirdParty(home), clock=clock)) as url:
        yield LiveTTP(home, url, clock, token)


@pytest.fixture
def smtp(smtp_server: SmtpServer) -> SmtpServer:
    smtp_server.start()
    return smtp_server


def set_password(link: str, password: str, again: str | None = None) -> httpx.Response:
    form = {"wachtwoord": password, "herhaling": password if again is None else again}
    return httpx.post(link, data=form)


def test_the_whole_way_gives_the_browser_the_key_the_command_line_uses(
    live: LiveTTP, smtp: SmtpServer
) -> None:
    link = live.enrol(smtp)
    page = httpx.get(link)
    assert page.status_code == 200
    assert "TTP-wachtwoord instellen" in page.text and EMAIL in page.text
    assert page.headers["referrer-policy"] == "no-referrer"
    done = set_password(link, PASSWORD)
    assert done.status_code == 200 and "is ingesteld" in done.text

    with HttpTTP(live.url, live.token) as client:
        blob = client.wrapped_source_key(EMAIL, AGB, "nhr")
    assert blob is not None
    key = unwrap_key(WrappedKey.from_json(blob), PASSWORD)
    # The source side of this installation (zorgbroker pseudonymise / submit) makes the same P1.
    assert key == source_key(live.home, "nhr")
    with pytest.raises(WrongPassword, match=r"Het TTP-wachtwoord klopt niet\."):
        unwrap_key(WrappedKey.from_json(blob), PASSWORD + "!")


def test_the_ttp_keeps_no_password_and_the_mail_no_key(live: LiveTTP, smtp: SmtpServer) -> None:
    link = live.enrol(smtp)
    assert set_password(link, PASSWORD).status_code == 200
    held = b"".join(p.read_bytes() for p in (live.home / "ttp").rglob("*") if p.is_file())
    assert PASSWORD.encode() not in held
    mail = smtp.inbox.messages[-1].as_bytes()
    assert not [k for k in key_material(live.home) if len(k) > 8 and k in mail]


def test_a_link_works_once(live: LiveTTP, smtp: SmtpServer) -> None:
    link = live.enrol(smtp)
    assert set_password(link, PASSWORD).status_code == 200
    again = set_password(link, "Een-ander-wachtwoord-met-woorden-77")
    assert again.status_code == 404 and "verlopen of al gebruikt" in again.text
    assert httpx.get(link).status_code == 404


def test_an_expired_link_is_refused(live: LiveTTP, smtp: SmtpServer) -> None:
    link = live.enrol(smtp)
    live.clock.now += LINK_VALID + dt.timedelta(seconds=1)
    assert httpx.get(link).status_code == 404
    refused = set_password(link, PASSWORD)
    assert refused.status_code == 404 and "verlopen of al gebruikt" in refused.text
    with HttpTTP(live.url, live.token) as client:
        assert client.wrapped_source_key(EMAIL, AGB, "nhr") is None


def test_a_weak_or_mistyped_password_is_refused_and_the_link_stays_usable(
    live: LiveTTP, smtp: SmtpServer
) -> None:
    link = live.enrol(smtp)
    weak = set_password(link, "wachtwoord1234")
    assert weak.status_code == 422 and "te makkelijk te raden" in weak.text
    mistyped = set_password(link, PASSWORD, again=PASSWORD + "x")
    assert mistyped.status_code == 422 and "niet gelijk" in mistyped.text
    assert set_password(link, PASSWORD).status_code == 200


def test_a_new_link_makes_a_new_wrapping(live: LiveTTP, smtp: SmtpServer) -> None:
    assert set_password(live.enrol(smtp), PASSWORD).status_code == 200
    first_link = live.enrol(smtp)
    second_link = live.enrol(smtp)  # a later link voids the one before
    assert httpx.get(first_link).status_code == 404
    new_password = "Zeilboot-grachtenpand-kwartel-85"
    assert set_password(second_link, new_password).status_code == 200
    with HttpTTP(live.url, live.token) as client:
        blob = WrappedKey.from_json(client.wrapped_source_key(EMAIL, AGB, "nhr") or {})
    assert unwrap_key(blob, new_password) == source_key(live.home, "nhr")
    with pytest.raises(WrongPassword):
        unwrap_key(blob, PASSWORD)


def test_only_exactly_that_user_organisation_and_registry_get_a_wrapping(
    live: LiveTTP, smtp: SmtpServer
) -> None:
    assert set_password(live.enrol(smtp), PASSWORD).status_code == 200
    with HttpTTP(live.url, live.token) as client:
        assert client.wrapped_source_key(EMAIL.upper(), AGB, "nhr") is not None
        assert client.wrapped_source_key("collega@rivierenland.example.nl", AGB, "nhr") is None
        assert client.wrapped_source_key(EMAIL, "07654321", "nhr") is None
        assert client.wrapped_source_key(EMAIL, AGB, "nivel") is None
    with (
        HttpTTP(live.url, "01234567.niet-het-token") as stranger,
        pytest.raises(NotAuthorised, match="ongeldig toegangstoken"),
    ):
        stranger.wrapped_source_key(EMAIL, AGB, "nhr")


def test_the_wrapped_key_endpoint_is_rate_limited(live: LiveTTP, smtp: SmtpServer) -> None:
    with HttpTTP(live.url, live.token) as client, pytest.raises(RateLimited):
        for _ in range(int(KEY_LIMITS.request_burst) + 2):
            client.wrapped_source_key(EMAIL, AGB, "nhr")


def test_enrolling_with_a_wrong_address_or_agb_is_a_usage_error(live: LiveTTP) -> None:
    env = {"ZORGBROKER_HOME": str(live.home)}
    for email, agb, says in [("geen-adres", AGB, "geen e-mailadres"),
                             (EMAIL, "1234", "geen AGB-code")]:  # fmt: skip
        done = CliRunner().invoke(
            ttp_app,
            ["enrol", "--email", email, "--organisation", agb, "--registry", "nhr"],
            env=env,
        )
        assert done.exit_code == 2 and says in done.output and "Traceback" not in done.output


def test_when_the_mail_cannot_go_out_enrolling_fails_with_status_3(
    live: LiveTTP, smtp_server: SmtpServer
) -> None:
    env = {"ZORGBROKER_HOME": str(live.home)}
    env |= {f"ZORGBROKER_{k.upper()}": v for k, v in smtp_settings(smtp_server).items()}
    done = CliRunner().invoke(
        ttp_app,
        ["enrol", "--email", EMAIL, "--organisation", AGB, "--registry", "nhr"],
        env=env,
    )
    assert done.exit_code == 3 and "niet worden verstuurd" in done.output


def test_the_ttp_adopts_the_project_key_the_source_side_already_uses(tmp_path: Path) -> None:
    home = tmp_path / "home"
    used_before = source_key(home, "nivel")  # an installation that uploaded before
    custody = SourceKeyCustody(TrustedThirdParty(home))
    assert custody.project_key("nivel") == used_before
    assert "bronsleutel-overgenomen" in (home / "ttp" / "audit.jsonl").read_text()


def test_a_source_installation_gets_the_project_key_the_browser_gets(tmp_path: Path) -> None:
    ttp_home, source_home = tmp_path / "ttp-machine", tmp_path / "hospital"
    runner = CliRunner()
    exported = tmp_path / "project-nhr.key"
    done = runner.invoke(
        ttp_app,
        ["source-key-export", "--registry", "nhr", "--output", str(exported)],
        env={"ZORGBROKER_HOME": str(ttp_home)},
    )
    assert done.exit_code == 0, done.output
    assert exported.stat().st_mode & 0o077 == 0
    (source_home / "source").mkdir(parents=True)
    exported.rename(source_home / "source" / "project-nhr.key")
    custody = SourceKeyCustody(TrustedThirdParty(ttp_home))
    assert source_key(source_home, "nhr") == custody.project_key("nhr")
    again = runner.invoke(
        ttp_app,
        [
            "source-key-export",
            "--registry",
            "nhr",
            "--output",
            str(source_home / "source" / "project-nhr.key"),
        ],
        env={"ZORGBROKER_HOME": str(ttp_home)},
    )
    assert again.exit_code == 2 and "bestaat al" in again.output
    audit = (ttp_home / "ttp" / "audit.jsonl").read_text()
    assert "bronsleutel-aangemaakt" in audit and "bronsleutel-uitgegeven" in audit


def test_the_ttp_refuses_a_project_key_that_differs_from_this_installations(
    tmp_path: Path,
) -> None:
    home = tmp_path / "home"
    custody = SourceKeyCustody(TrustedThirdParty(home))
    custody.project_key("nhr")
    local = home / "source" / "project-nhr.key"
    local.parent.mkdir(parents=True)
    local.write_bytes(bytes(32))
    local.chmod(0o600)
    with pytest.raises(KeyCustodyError, match="verschilt van"):
        custody.project_key("nhr")


def test_the_embedded_ttp_gives_the_portal_the_same_wrapping(tmp_path: Path) -> None:
    """Without ZORGBROKER_TTP_URL the portal asks the TTP in its own installation (LocalTTP)."""
    from zorgbroker.pseudonymisation.client import LocalTTP, WrappedKeySource

    home = tmp_path / "home"
    custody = SourceKeyCustody(TrustedThirdParty(home))
    sent: list[str] = []

    class Kept:
        def send(self, to: str, subject: str, body: str) -> None:
            sent.append(body)

    custody.enrol(EMAIL, AGB, "nhr", base_url="https://ttp.example", mailer=Kept())
    token = sent[-1].split("https://ttp.example/wachtwoord/")[1].split()[0]
    custody.set_password(token, PASSWORD)
    local: WrappedKeySource = LocalTTP(home)
    blob = local.wrapped_source_key(EMAIL, AGB, "nhr")
    assert blob is not None
    assert unwrap_key(WrappedKey.from_json(blob), PASSWORD) == source_key(home, "nhr")
    assert local.wrapped_source_key(EMAIL, "07654321", "nhr") is None
