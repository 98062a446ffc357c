"""The whole story in a real browser: invitation mail, a weak password refused, the wizard
(pyotp computes the codes), sign in, Mijn sessies, sign out; the mailed token in another
browser; the 4-hour trusted browser and the 30-minute idle limit on an advanced clock."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pyotp
import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import LivePortal
from zorgbroker.accounts.interfaces import RequestContext

pytestmark = pytest.mark.slow
GOOD = "vlinder kompas regenjas toren"
EMAIL = "jan@ziekenhuis.example"


def link_from_mail(portal: LivePortal, marker: str) -> str:
    body = portal.mailer.last_to(EMAIL).body
    return next(word for word in body.split() if marker in word)


def sign_in(page: Page, portal: LivePortal) -> None:
    page.goto(portal.url + "/aanmelden")
    page.get_by_label("E-mailadres").fill(EMAIL)
    page.get_by_label("Wachtwoord").fill(GOOD)
    page.get_by_role("button", name="Aanmelden").click()


def no_audit(page: Page) -> None:
    return None


def set_up(page: Page, portal: LivePortal, audit: Callable[[Page], None] = no_audit) -> pyotp.TOTP:
    portal.services.accounts.invite(
        None, portal.hospital, EMAIL, "Jan de Vries", ["uploader"], RequestContext()
    )
    page.goto(link_from_mail(portal, "/uitnodiging/"))
    expect(page.get_by_role("heading", name="Wachtwoord instellen")).to_be_visible()
    audit(page)
    page.get_by_label("Nieuw wachtwoord").press_sequentially("Rivierenland1", delay=10)
    expect(page.locator("#sterkte")).to_contain_text("minimaal 60%")
    page.get_by_label("Herhaal het wachtwoord").fill("Rivierenland1")
    page.get_by_role("button", name="Wachtwoord instellen").click()
    expect(page.get_by_role("alert")).to_contain_text("te zwak")
    audit(page)
    page.get_by_label("Nieuw wachtwoord").fill(GOOD)
    page.get_by_label("Herhaal het wachtwoord").fill(GOOD)
    page.get_by_role("button", name="Wachtwoord instellen").click()
    expect(page.get_by_role("status")).to_contain_text("Uw wachtwoord is ingesteld")

    sign_in(page, portal)
    expect(page.get_by_role("heading", name="Tweestapsverificatie activeren")).to_be_visible()
    audit(page)
    page.get_by_role("button", name="Volgende").click()
    audit(page)
    code = portal.mailer.last_to(EMAIL).body.split("activeringscode is: ")[1].split()[0]
    page.get_by_label("Activeringscode").fill(code)
    page.get_by_role("button", name="Volgende").click()
    expect(
        page.get_by_role("img", name="QR-code om de authenticator-app te koppelen")
    ).to_be_visible()
    audit(page)
    totp = pyotp.TOTP(page.locator("#sleutel").inner_text().replace(" ", ""))
    page.get_by_label("Beveiligingscode (6 cijfers)").fill(totp.at(portal.clock.now()))
    page.get_by_role("button", name="Bevestigen").click()
    expect(page.locator("#herstelcodes li")).to_have_count(10)
    audit(page)
    page.get_by_role("button", name="Ik heb de codes bewaard").click()
    expect(page.get_by_role("heading", name="Welkom, Jan de Vries")).to_be_visible()
    audit(page)
    return totp


def test_invitation_wizard_sign_in_sessions_sign_out(browser: Any, live_portal: LivePortal) -> None:
    context = browser.new_context()
    page = context.new_page()
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    totp = set_up(page, live_portal)

    # A second browser signs in with the app's next code.
    other = browser.new_context().new_page()
    live_portal.clock.advance(seconds=30)
    sign_in(other, live_portal)
    expect(other.get_by_role("heading", name="Tweede stap")).to_be_visible()
    other.get_by_label("Beveiligingscode (6 cijfers)").fill(totp.at(live_portal.clock.now()))
    other.get_by_role("button", name="Bevestigen").first.click()
    expect(other.get_by_role("heading", name="Welkom, Jan de Vries")).to_be_visible()

    page.get_by_role("navigation").get_by_role("link", name="Mijn sessies").click()
    expect(page.locator("table tbody tr")).to_have_count(2)
    page.get_by_role("button", name="Alle andere sessies afmelden").click()
    expect(page.get_by_role("status")).to_contain_text("Alle andere sessies zijn afgemeld")
    other.reload()
    expect(other.get_by_role("heading", name="Aanmelden")).to_be_visible()

    page.get_by_role("button", name="Afmelden").first.click()
    expect(page.get_by_role("status")).to_contain_text("U bent afgemeld")
    page.goto(live_portal.url + "/mijn-sessies")
    expect(page.get_by_role("heading", name="Aanmelden")).to_be_visible()
    assert not [e for e in errors if "Content Security Policy" in e], errors


def test_mailed_token_only_in_its_browser_trusted_browser_and_idle_limit(
    browser: Any, live_portal: LivePortal
) -> None:
    page = browser.new_context().new_page()
    set_up(page, live_portal)
    page.get_by_role("button", name="Afmelden").first.click()

    asker = browser.new_context().new_page()
    sign_in(asker, live_portal)
    asker.get_by_role("button", name="Stuur mij een inlogcode").click()
    expect(asker.get_by_text("We hebben een e-mail gestuurd")).to_contain_text("10 minuten")
    link = link_from_mail(live_portal, "/aanmelden/token/")
    stranger = browser.new_context().new_page()
    sign_in(stranger, live_portal)
    stranger.goto(link)
    stranger.get_by_role("button", name="Aanmelden afronden").click()
    expect(stranger.get_by_role("alert")).to_contain_text("andere browser")
    asker.goto(link)
    asker.get_by_role("button", name="Aanmelden afronden").click()
    expect(asker.get_by_role("heading", name="Welkom, Jan de Vries")).to_be_visible()

    # Within 4 hours this browser needs no second step; 30 minutes idle signs it out.
    asker.get_by_role("button", name="Afmelden").first.click()
    live_portal.clock.advance(hours=3)
    sign_in(asker, live_portal)
    expect(asker.get_by_role("heading", name="Welkom, Jan de Vries")).to_be_visible()
    live_portal.clock.advance(minutes=31)
    asker.reload()
    expect(asker.get_by_role("heading", name="Aanmelden")).to_be_visible()
    live_portal.clock.advance(hours=1, minutes=30)
    sign_in(asker, live_portal)
    expect(asker.get_by_role("heading", name="Tweede stap")).to_be_visible()


AXE = Path(__file__).resolve().parent / "vendor" / "axe.min.js"
WCAG_21_AA = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]


def axe_audit(page: Page) -> None:
    """axe-core (vendored from npm) finds no WCAG 2.1 AA violation on the page."""
    page.add_script_tag(path=str(AXE))
    violations = page.evaluate(
        "tags => axe.run(document, {runOnly: {type: 'tag', values: tags}})"
        ".then(r => r.violations.map(v => v.id + ': ' + v.nodes.map(n => n.target).join(' ')))",
        WCAG_21_AA,
    )
    assert violations == [], f"{page.url}: {violations}"


def test_no_wcag_21_aa_violation_on_any_page_of_the_story(
    browser: Any, live_portal: LivePortal
) -> None:
    # Only this test lifts the CSP: axe is injected as an inline script.
    page = browser.new_context(bypass_csp=True).new_page()
    axe_audit_pages = [
        "/aanmelden",
        "/wachtwoord-vergeten",
        "/demo/mailbox",
        "/uitnodiging/onbekend",
    ]
    for path in axe_audit_pages:
        page.goto(live_portal.url + path)
        axe_audit(page)
    set_up(page, live_portal, axe_audit)
    for path in ("/mijn-sessies", "/beveiligingslog", "/tweestap"):
        page.goto(live_portal.url + path)
        axe_audit(page)
    other = browser.new_context(bypass_csp=True).new_page()
    sign_in(other, live_portal)
    expect(other.get_by_role("heading", name="Tweede stap")).to_be_visible()
    axe_audit(other)
    other.get_by_role("button", name="Stuur mij een inlogcode").click()
    axe_audit(other)
    other.goto(link_from_mail(live_portal, "/aanmelden/token/"))
    axe_audit(other)


def test_a_passkey_through_chromiums_virtual_authenticator(
    browser: Any, live_portal: LivePortal
) -> None:
    context = browser.new_context()
    page = context.new_page()
    cdp = context.new_cdp_session(page)
    cdp.send("WebAuthn.enable")
    cdp.send(
        "WebAuthn.addVirtualAuthenticator",
        {
            "options": {
                "protocol": "ctap2",
                "transport": "internal",
                "hasResidentKey": True,
                "hasUserVerification": True,
                "isUserVerified": True,
            }
        },
    )
    set_up(page, live_portal)
    page.get_by_label("Naam van de passkey").fill("Laptop")
    page.get_by_role("button", name="Passkey toevoegen").click()
    expect(page.get_by_text("De passkey is toegevoegd.")).to_be_visible()
    page.get_by_role("button", name="Afmelden").first.click()

    live_portal.clock.advance(hours=4, minutes=1)  # the trusted browser has expired
    sign_in(page, live_portal)
    expect(page.get_by_role("heading", name="Tweede stap")).to_be_visible()
    page.get_by_role("button", name="Aanmelden met een passkey").click()
    expect(page.get_by_role("heading", name="Welkom, Jan de Vries")).to_be_visible()
    page.goto(live_portal.url + "/beveiligingslog")
    expect(page.get_by_role("cell", name="passkey toegevoegd")).to_be_visible()
