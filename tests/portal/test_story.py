"""The sign-in story over HTTP: invitation, password, wizard, sign in, Mijn sessies, sign out."""

from __future__ import annotations

import dataclasses
import re

import pyotp
from fastapi.testclient import TestClient

from tests.portal.conftest import ORIGIN, SYSTEM, Portal, csrf
from zorgbroker.portal.security import SESSION_COOKIE

GOOD = "vlinder kompas regenjas toren"


def form_post(client: TestClient, path: str, html: str, **data: str):  # type: ignore[no-untyped-def]
    return client.post(path, data={"csrf_token": csrf(html), **data}, headers={"Origin": ORIGIN})


def set_up_account(
    portal: Portal, client: TestClient, email: str = "jan@ziekenhuis.example"
) -> tuple[pyotp.TOTP, list[str]]:
    link = portal.invite(email)
    page = client.get(link)
    assert page.status_code == 200 and "minimaal 60%" in page.text
    weak = form_post(client, link, page.text, password="Rivierenland1", repeat="Rivierenland1")
    assert weak.status_code == 400
    assert "te zwak" in weak.text and "minimaal 60%" in weak.text
    meter = client.post(
        link + "/sterkte",
        data={"password": "kompas"},
        headers={"Origin": ORIGIN, "X-CSRF-Token": csrf(page.text)},
    )
    assert meter.status_code == 200 and "<meter" in meter.text and "minimaal 60%" in meter.text
    done = form_post(client, link, weak.text, password=GOOD, repeat=GOOD)
    assert done.status_code == 200 and "Wachtwoord ingesteld" in done.text

    sign_in = client.get("/aanmelden")
    before = client.cookies.get(SESSION_COOKIE)
    answer = form_post(client, "/aanmelden", sign_in.text, email=email, password=GOOD)
    assert answer.status_code == 303 and answer.headers["location"] == "/tweestap"
    assert client.cookies.get(SESSION_COOKIE) not in (None, before)

    start = client.get("/tweestap")
    step2 = form_post(client, "/tweestap/activeringscode", start.text)
    assert "Activeringscode invullen" in step2.text
    code = portal.mailer.last_to(email).body.split("activeringscode is: ")[1].split()[0]
    step3 = form_post(client, "/tweestap/activeren", step2.text, code=code)
    assert step3.status_code == 200 and 'src="data:image/svg+xml' in step3.text
    secret = re.search(r'id="sleutel">([^<]+)<', step3.text).group(1).replace(" ", "")  # type: ignore[union-attr]
    totp = pyotp.TOTP(secret)
    codes_page = form_post(
        client, "/tweestap/bevestigen", step3.text, code=totp.at(portal.clock.now())
    )
    assert codes_page.status_code == 200
    codes = re.findall(r"<li><code>([A-Z0-9-]+)</code></li>", codes_page.text)
    assert len(codes) == 10
    finished = form_post(client, "/tweestap/klaar", codes_page.text)
    assert finished.status_code == 303 and finished.headers["location"] == "/"
    return totp, codes


def test_invitation_password_wizard_sign_in_sessions_sign_out(portal: Portal) -> None:
    client = portal.client()
    totp, _ = set_up_account(portal, client)
    assert "Welkom, Jan de Vries" in client.get("/").text

    # Another browser signs in: password, then the app's next code.
    other = portal.client()
    portal.clock.advance(seconds=30)
    page = other.get("/aanmelden")
    answer = form_post(
        other, "/aanmelden", page.text, email="jan@ziekenhuis.example", password=GOOD
    )
    assert answer.headers["location"] == "/aanmelden/tweede-stap"
    second = other.get("/aanmelden/tweede-stap")
    done = form_post(other, "/aanmelden/totp", second.text, code=totp.at(portal.clock.now()))
    assert done.status_code == 303 and done.headers["location"] == "/"

    sessions = client.get("/mijn-sessies")
    assert sessions.status_code == 200 and sessions.text.count("<tr>") == 3  # header + 2
    ended = form_post(client, "/mijn-sessies/anderen-afmelden", sessions.text)
    assert ended.status_code == 303
    assert other.get("/").headers["location"] == "/aanmelden"
    out = form_post(client, "/afmelden", client.get("/").text)
    assert out.status_code == 200 and "U bent afgemeld" in out.text
    assert client.get("/mijn-sessies").headers["location"] == "/aanmelden"


def test_the_mailed_token_works_only_in_the_browser_that_asked(portal: Portal) -> None:
    client = portal.client()
    set_up_account(portal, client)
    mine, theirs = portal.client(), portal.client()
    for browser in (mine, theirs):
        page = browser.get("/aanmelden")
        form_post(browser, "/aanmelden", page.text, email="jan@ziekenhuis.example", password=GOOD)
    sent = form_post(mine, "/aanmelden/token-versturen", mine.get("/aanmelden/tweede-stap").text)
    assert "10 minuten" in sent.text
    link = next(
        w
        for w in portal.mailer.last_to("jan@ziekenhuis.example").body.split()
        if "/aanmelden/token/" in w
    ).split(ORIGIN, 1)[1]
    confirm = theirs.get(link)  # a GET changes nothing
    refused = form_post(theirs, link, confirm.text)
    assert refused.status_code == 400 and "andere browser" in refused.text
    confirm = mine.get(link)
    accepted = form_post(mine, link, confirm.text)
    assert accepted.status_code == 303 and accepted.headers["location"] == "/"
    assert "Welkom" in mine.get("/").text


def test_sensitive_changes_ask_for_the_password_after_15_minutes(portal: Portal) -> None:
    client = admin_client(portal)
    policy = client.get("/organisatie/beleid")
    assert policy.status_code == 200
    portal.clock.advance(minutes=16)
    fields = {
        "min_strength": "70",
        "min_length": "12",
        "change_after_days": "0",
        "warn_days": "0",
        "disable_after_days": "0",
        "attempts": "5",
        "lock_minutes": "30",
        "history": "5",
        "two_step_required": "true",
    }
    asked = form_post(
        client, "/organisatie/beleid", client.get("/organisatie/beleid").text, **fields
    )
    assert asked.status_code == 303 and asked.headers["location"].startswith("/bevestigen")
    confirm = client.get(asked.headers["location"])
    back = form_post(
        client, "/bevestigen", confirm.text, password=GOOD, terug="/organisatie/beleid"
    )
    assert back.headers["location"] == "/organisatie/beleid"
    saved = form_post(
        client, "/organisatie/beleid", client.get("/organisatie/beleid").text, **fields
    )
    assert saved.status_code == 303 and saved.headers["location"].endswith("opgeslagen=1")
    assert portal.services.accounts.organisation_policy(portal.hospital).min_strength == 70


def test_the_password_alone_cannot_replace_the_app(portal: Portal) -> None:
    client = portal.client()
    set_up_account(portal, client)
    attacker = portal.client()
    page = attacker.get("/aanmelden")
    form_post(attacker, "/aanmelden", page.text, email="jan@ziekenhuis.example", password=GOOD)
    assert attacker.get("/tweestap").headers["location"] == "/aanmelden/tweede-stap"
    current = attacker.get("/aanmelden/tweede-stap").text
    sent = attacker.post(
        "/tweestap/activeringscode",
        data={"csrf_token": csrf(current)},
        headers={"Origin": ORIGIN},
    )
    assert sent.status_code == 303 and sent.headers["location"] == "/aanmelden/tweede-stap"


def test_a_password_change_offers_signing_out_elsewhere_pre_ticked(portal: Portal) -> None:
    client = portal.client()
    totp, _ = set_up_account(portal, client)
    other = portal.client()
    portal.clock.advance(seconds=30)
    page = other.get("/aanmelden")
    form_post(other, "/aanmelden", page.text, email="jan@ziekenhuis.example", password=GOOD)
    second = other.get("/aanmelden/tweede-stap")
    form_post(other, "/aanmelden/totp", second.text, code=totp.at(portal.clock.now()))
    assert other.get("/").status_code == 200

    page = client.get("/wachtwoord")
    assert 'name="end_others" type="checkbox" value="true" checked' in page.text
    new = "zeilboot paraplu molen appeltaart"
    changed = form_post(
        client, "/wachtwoord", page.text, current=GOOD, password=new, repeat=new, end_others="true"
    )
    assert changed.status_code == 200 and "Uw wachtwoord is gewijzigd" in changed.text
    assert client.get("/").status_code == 200
    assert other.get("/").headers["location"] == "/aanmelden"


def test_an_expired_password_leads_to_the_change_page(portal: Portal) -> None:
    client = portal.client()
    totp, _ = set_up_account(portal, client)
    policy = portal.services.accounts.organisation_policy(portal.hospital)
    portal.services.accounts.set_policy(
        None,
        portal.hospital,
        dataclasses.replace(policy, change_after_days=90, warn_days=14),
        SYSTEM,
    )
    portal.clock.advance(days=91)
    fresh = portal.client()
    page = fresh.get("/aanmelden")
    form_post(fresh, "/aanmelden", page.text, email="jan@ziekenhuis.example", password=GOOD)
    second = fresh.get("/aanmelden/tweede-stap")
    done = form_post(fresh, "/aanmelden/totp", second.text, code=totp.at(portal.clock.now()))
    assert done.headers["location"] == "/wachtwoord?verlopen=1"
    assert "Uw wachtwoord is verlopen" in fresh.get(done.headers["location"]).text


def admin_client(portal: Portal) -> TestClient:
    """An organisation administrator, signed in (the organisation asks no second step)."""
    client = portal.client()
    portal.services.accounts.invite(
        None,
        portal.hospital,
        "admin@ziekenhuis.example",
        "Beheerder",
        ("uploader", "organisation_admin"),
        SYSTEM,
    )
    link = next(
        line
        for line in portal.mailer.last_to("admin@ziekenhuis.example").body.splitlines()
        if "/uitnodiging/" in line
    ).split(ORIGIN, 1)[1]
    page = client.get(link)
    form_post(client, link, page.text, password=GOOD, repeat=GOOD)
    policy = portal.services.accounts.organisation_policy(portal.hospital)
    portal.services.accounts.set_policy(
        None, portal.hospital, dataclasses.replace(policy, two_step_required=False), SYSTEM
    )
    page = client.get("/aanmelden")
    form_post(client, "/aanmelden", page.text, email="admin@ziekenhuis.example", password=GOOD)
    return client


def test_an_administrator_invites_and_disables_a_user_whose_session_then_ends(
    portal: Portal,
) -> None:
    admin = admin_client(portal)
    users = admin.get("/organisatie/gebruikers")
    invited = form_post(
        admin,
        "/organisatie/gebruikers",
        users.text,
        name="Jan de Vries",
        email="jan@ziekenhuis.example",
        roles="uploader",
    )
    assert invited.headers["location"] == "/organisatie/gebruikers?melding=uitgenodigd"
    link = next(
        line
        for line in portal.mailer.last_to("jan@ziekenhuis.example").body.splitlines()
        if "/uitnodiging/" in line
    ).split(ORIGIN, 1)[1]
    jan = portal.client()
    form_post(jan, link, jan.get(link).text, password=GOOD, repeat=GOOD)
    form_post(
        jan, "/aanmelden", jan.get("/aanmelden").text, email="jan@ziekenhuis.example", password=GOOD
    )
    assert "Welkom, Jan de Vries" in jan.get("/").text
    assert jan.get("/organisatie/gebruikers").headers["location"] == "/"  # not an administrator

    jan_id = next(
        u.id for u in portal.services.accounts.users(portal.hospital) if u.name == "Jan de Vries"
    )
    users = admin.get("/organisatie/gebruikers")
    disabled = form_post(admin, f"/organisatie/gebruikers/{jan_id}/uitschakelen", users.text)
    assert disabled.headers["location"] == "/organisatie/gebruikers?melding=uit"
    assert jan.get("/").headers["location"] == "/aanmelden"

    portal.clock.advance(minutes=16)
    users = admin.get("/organisatie/gebruikers")
    roles = form_post(
        admin, f"/organisatie/gebruikers/{jan_id}/rollen", users.text, roles="organisation_admin"
    )
    assert roles.headers["location"].startswith("/bevestigen")
