"""E-mailadres wijzigen over HTTP: re-authentication, the link to the new address, the notice."""

from __future__ import annotations

from tests.portal.conftest import ORIGIN, Portal
from tests.portal.test_story import GOOD, form_post, set_up_account

OLD = "jan@ziekenhuis.example"
NEW = "j.devries@ziekenhuis.example"


def test_changing_the_address_asks_the_password_and_a_click_in_the_new_mailbox(
    portal: Portal,
) -> None:
    client = portal.client()
    set_up_account(portal, client, OLD)
    assert 'href="/e-mailadres"' in client.get("/").text
    portal.clock.advance(minutes=16)
    asked = client.get("/e-mailadres")
    assert (
        asked.status_code == 303 and asked.headers["location"] == "/bevestigen?terug=/e-mailadres"
    )
    confirm = client.get(asked.headers["location"])
    back = form_post(client, "/bevestigen", confirm.text, password=GOOD, terug="/e-mailadres")
    assert back.headers["location"] == "/e-mailadres"

    page = client.get("/e-mailadres")
    assert page.status_code == 200 and '<label for="email">Nieuw e-mailadres</label>' in page.text
    sent = form_post(client, "/e-mailadres", page.text, email=NEW)
    assert sent.status_code == 200 and "Bevestig uw nieuwe e-mailadres" in sent.text
    assert "wijzigen in j.devries@ziekenhuis.example" in portal.mailer.last_to(OLD).body
    assert OLD in client.get("/e-mailadres").text  # nothing changed yet

    link = next(
        w for w in portal.mailer.last_to(NEW).body.split() if "/e-mailadres/bevestigen/" in w
    ).split(ORIGIN, 1)[1]
    mailbox = portal.client()  # the link may be opened in any browser
    shown = mailbox.get(link)  # a GET changes nothing
    assert shown.status_code == 200 and NEW in shown.text
    assert portal.services.accounts.find_user(OLD) is not None
    done = form_post(mailbox, link, shown.text)
    assert done.status_code == 200 and "Uw e-mailadres is gewijzigd" in done.text
    assert portal.mailer.last_to(OLD).subject == "Uw e-mailadres is gewijzigd"
    again = form_post(mailbox, link, mailbox.get("/aanmelden").text)
    assert again.status_code == 404 and "niet (meer) geldig" in again.text

    log = client.get("/beveiligingslog").text
    assert "e-mailadres gewijzigd" in log and "wijziging e-mailadres aangevraagd" in log
    out = form_post(client, "/afmelden", client.get("/").text)
    assert out.status_code == 200
    sign_in = client.get("/aanmelden")
    answer = form_post(client, "/aanmelden", sign_in.text, email=NEW, password=GOOD)
    assert answer.status_code == 303 and answer.headers["location"] != "/aanmelden"


def test_another_users_address_is_refused_in_dutch(portal: Portal) -> None:
    client = portal.client()
    set_up_account(portal, client, OLD)
    portal.invite("piet@ziekenhuis.example", name="Piet Jansen")
    page = client.get("/e-mailadres")
    refused = form_post(client, "/e-mailadres", page.text, email="piet@ziekenhuis.example")
    assert refused.status_code == 400
    assert "Er is al een gebruiker met dit e-mailadres" in refused.text
    assert 'aria-invalid="true"' in refused.text


def test_the_change_needs_the_csrf_token(portal: Portal) -> None:
    client = portal.client()
    set_up_account(portal, client, OLD)
    forged = client.post("/e-mailadres", data={"email": NEW}, headers={"Origin": ORIGIN})
    assert forged.status_code in (400, 403)
    assert all(mail.to != NEW for mail in portal.mailer.sent)
