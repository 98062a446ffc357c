"""MedMij consent in a real browser: the PGO's authorization URL, sign-in with password and app
code, the consent page, and the browser actually reaching the PGO's redirect_uri with a code
(Chromium applies the CSP's form-action to a form's redirects; the page allows the PGO's origin).
The PGO's host is answered by Playwright, so nothing leaves the machine."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pyotp
import pytest
import uvicorn
from authlib.integrations.httpx_client import OAuth2Client
from playwright.sync_api import Page, Route, expect

from tests.accounts.conftest import GOOD_PASSWORD, HOME, demo_sqlite_engine, standin_services
from tests.browser.conftest import _free_port
from tests.browser.test_sign_in_story import axe_audit
from zorgbroker.accounts.standins import FrozenClock, MemoryMailer
from zorgbroker.fhir.oauth.lists import DEMO_LISTS, read_lists
from zorgbroker.fhir.oauth.patients import PatientAccess
from zorgbroker.fhir.oauth.server import AuthorizationService
from zorgbroker.fhir.oauth.store import OAuthStore
from zorgbroker.fhir.schema import ensure_schema
from zorgbroker.portal.app import create_app

pytestmark = pytest.mark.slow
EMAIL = "bals@voorbeeld.nl"
PGO = "pgo.voorbeeld.nl"
REDIRECT = f"https://{PGO}/medmij/terug"


@dataclass
class Practice:
    url: str
    clock: FrozenClock
    totp: pyotp.TOTP


@pytest.fixture
def practice(tmp_path: Path) -> Iterator[Practice]:
    port = _free_port()
    url = f"http://localhost:{port}"
    engine = demo_sqlite_engine(tmp_path / "portal.db")
    ensure_schema(engine)
    clock, mailer = FrozenClock(), MemoryMailer()
    services = standin_services(engine, clock, mailer, base_url=url)
    organisation = services.accounts.create_organisation("Praktijk patiënten")
    user_id = services.accounts.invite(None, organisation, EMAIL, "Patiënt Bals", (), HOME)
    link = next(line for line in mailer.last_to(EMAIL).body.splitlines() if "/uitnodiging/" in line)
    services.accounts.accept_invitation(link.rsplit("/", 1)[1], GOOD_PASSWORD, HOME)
    totp = pyotp.TOTP(services.two_factor.begin_totp(user_id).secret)
    services.two_factor.confirm_totp(user_id, totp.at(clock.now()), HOME)
    store = OAuthStore(engine, clock.now)
    store.link_patient(user_id, "XXX-Bals")
    app = create_app(services, origin=url, demo_mailbox=mailer)
    authorization = AuthorizationService(
        read_lists(DEMO_LISTS), store, provider="praktijk", issuer=url
    )
    app.state.patient_access = PatientAccess(engine, authorization)
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.05)
    yield Practice(url, clock, totp)
    server.should_exit = True
    thread.join(timeout=10)
    engine.dispose()


def test_the_patient_consents_and_the_browser_reaches_the_pgo(
    browser: Any, practice: Practice
) -> None:
    pgo = OAuth2Client(client_id=PGO, scope="praktijk~24", redirect_uri=REDIRECT)
    authorize, state = pgo.create_authorization_url(f"{practice.url}/medmij/autoriseren")
    reached: list[str] = []

    def answer_as_the_pgo(route: Route) -> None:
        reached.append(route.request.url)
        route.fulfill(status=200, content_type="text/html", body="<p>PGO: ontvangen</p>")

    context = browser.new_context()
    page: Page = context.new_page()
    page.route(f"https://{PGO}/**", answer_as_the_pgo)
    page.goto(authorize)
    page.get_by_label("E-mailadres").fill(EMAIL)
    page.get_by_label("Wachtwoord").fill(GOOD_PASSWORD)
    page.get_by_role("button", name="Aanmelden").click()
    practice.clock.advance(seconds=30)
    page.get_by_label("Beveiligingscode (6 cijfers)").fill(practice.totp.at(practice.clock.now()))
    page.get_by_role("button", name="Bevestigen").first.click()

    expect(page.get_by_role("heading", name="Toestemming voor uw PGO")).to_be_visible()
    expect(page.locator("main")).to_contain_text("Voorbeeld PGO")
    expect(page.locator("main")).to_contain_text("Basisgegevens GGZ")
    page.get_by_role("button", name="Toestemming geven").click()
    expect(page.locator("body")).to_contain_text("PGO: ontvangen")

    assert len(reached) == 1
    back = urlsplit(reached[0])
    assert f"{back.scheme}://{back.netloc}{back.path}" == REDIRECT
    query = parse_qs(back.query)
    assert query["state"] == [state] and len(query["code"][0]) >= 40
    context.close()


def test_the_consent_page_and_the_access_page_have_no_wcag_21_aa_violation(
    browser: Any, practice: Practice
) -> None:
    # Only here is the CSP lifted: axe is injected as an inline script.
    pgo = OAuth2Client(client_id=PGO, scope="praktijk~24", redirect_uri=REDIRECT)
    authorize, _ = pgo.create_authorization_url(f"{practice.url}/medmij/autoriseren")
    context = browser.new_context(bypass_csp=True)
    page: Page = context.new_page()
    page.goto(authorize)
    page.get_by_label("E-mailadres").fill(EMAIL)
    page.get_by_label("Wachtwoord").fill(GOOD_PASSWORD)
    page.get_by_role("button", name="Aanmelden").click()
    practice.clock.advance(seconds=30)
    page.get_by_label("Beveiligingscode (6 cijfers)").fill(practice.totp.at(practice.clock.now()))
    page.get_by_role("button", name="Bevestigen").first.click()
    expect(page.get_by_role("heading", name="Toestemming voor uw PGO")).to_be_visible()
    axe_audit(page)
    page.goto(f"{practice.url}/mijn-gegevens/opvragingen")
    expect(page.get_by_role("heading", level=1)).to_be_visible()
    axe_audit(page)
    context.close()
