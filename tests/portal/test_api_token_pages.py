"""API-sleutels in the portal: made with the CSRF token, shown once, listed with last use,
revoked; only for users who upload or administer."""

from __future__ import annotations

import re

from tests.portal.conftest import ORIGIN, Portal
from tests.portal.test_story import form_post, set_up_account

TOKEN = re.compile(r"zbt_[0-9a-f]{12}_[A-Za-z0-9_-]{43}")


def test_a_token_is_shown_once_listed_with_last_use_and_revoked(portal: Portal) -> None:
    client = portal.client()
    set_up_account(portal, client)
    page = client.get("/api-sleutels")
    assert page.status_code == 200 and "Nog geen sleutels." in page.text
    assert 'href="/api-sleutels"' in page.text

    made = form_post(client, "/api-sleutels", page.text, name="Exportserver HiX")
    assert made.status_code == 200
    assert made.headers["cache-control"] == "no-store"
    [secret] = TOKEN.findall(made.text)
    assert "alleen nu" in made.text
    assert portal.services.api_tokens.verify(secret) is not None

    again = client.get("/api-sleutels")
    assert TOKEN.search(again.text) is None
    assert "Exportserver HiX" in again.text and secret[:16] in again.text
    assert "nooit" not in again.text  # the verify above was its first use
    assert portal.clock.now().strftime("%d-%m-%Y %H:%M") in again.text

    [token] = portal.services.api_tokens.list(portal.services.accounts.find_user(
        "jan@ziekenhuis.example") or 0)  # fmt: skip
    revoked = form_post(client, f"/api-sleutels/{token.id}/intrekken", again.text)
    assert revoked.status_code == 303
    assert revoked.headers["location"] == "/api-sleutels?melding=ingetrokken"
    after = client.get(revoked.headers["location"]).text
    assert "hij werkt niet meer" in after and "ingetrokken " in after
    assert portal.services.api_tokens.verify(secret) is None
    log = client.get("/beveiligingslog").text
    assert "API-sleutel gemaakt" in log and "API-sleutel ingetrokken" in log
    assert secret.split("_", 2)[2] not in log


def test_making_a_token_needs_the_forms_csrf_token_and_a_name(portal: Portal) -> None:
    client = portal.client()
    set_up_account(portal, client)
    page = client.get("/api-sleutels")

    forged = client.post("/api-sleutels", data={"name": "x"}, headers={"Origin": ORIGIN})
    assert forged.status_code == 403
    other_site = client.post(
        "/api-sleutels",
        data={"name": "x", "csrf_token": "whatever"},
        headers={"Origin": "https://elders.example"},
    )
    assert other_site.status_code == 403
    nameless = form_post(client, "/api-sleutels", page.text, name="  ")
    assert nameless.status_code == 422 and "Geef de sleutel een naam" in nameless.text
    assert TOKEN.search(nameless.text) is None
    assert (
        portal.services.api_tokens.list(
            portal.services.accounts.find_user("jan@ziekenhuis.example") or 0
        )
        == []
    )


def test_another_users_token_cannot_be_revoked_by_a_colleague(portal: Portal) -> None:
    client = portal.client()
    set_up_account(portal, client)
    portal.invite("piet@ziekenhuis.example", name="Piet Jansen")
    piet = portal.services.accounts.find_user("piet@ziekenhuis.example")
    assert piet is not None
    from tests.portal.conftest import SYSTEM

    made = portal.services.api_tokens.create(piet, "server van Piet", SYSTEM)
    page = client.get("/api-sleutels")
    assert "server van Piet" not in page.text
    refused = form_post(client, f"/api-sleutels/{made.id}/intrekken", page.text)
    assert refused.status_code == 404 and "bestaat niet" in refused.text
    assert portal.services.api_tokens.verify(made.secret) is not None


def test_signed_out_the_page_asks_to_sign_in(portal: Portal) -> None:
    answer = portal.client().get("/api-sleutels")
    assert answer.status_code == 303 and answer.headers["location"] == "/aanmelden"


def test_a_token_may_expire_after_the_chosen_days(portal: Portal) -> None:
    client = portal.client()
    set_up_account(portal, client)
    page = client.get("/api-sleutels")
    assert '<option value="90">90 dagen</option>' in page.text
    made = form_post(client, "/api-sleutels", page.text, name="tijdelijk", dagen="90")
    [secret] = TOKEN.findall(made.text)
    assert "geldig tot" in client.get("/api-sleutels").text
    odd = form_post(client, "/api-sleutels", page.text, name="x", dagen="7")
    assert odd.status_code == 422 and "hoe lang" in odd.text
    portal.clock.advance(days=89)
    assert portal.services.api_tokens.verify(secret) is not None
    portal.clock.advance(days=1)
    assert portal.services.api_tokens.verify(secret) is None
