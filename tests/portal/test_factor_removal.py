"""Removing a second factor from the start page: re-authentication, the policy's refusal."""

from __future__ import annotations

import re

from tests.accounts.test_factor_removal import add_passkey
from tests.portal.conftest import Portal
from tests.portal.test_story import GOOD, form_post, set_up_account

EMAIL = "jan@ziekenhuis.example"
REMOVE = re.compile(r'action="(/tweede-stap/[a-z]+/\d+/verwijderen)"')


def test_the_last_factor_is_kept_with_a_dutch_explanation(portal: Portal) -> None:
    client = portal.client()
    set_up_account(portal, client, EMAIL)  # the default policy requires two steps
    home = client.get("/")
    assert "Authenticator-app" in home.text
    [action] = REMOVE.findall(home.text)
    refused = form_post(client, action, home.text)
    assert refused.status_code == 400
    assert "Dit is uw enige tweede stap" in refused.text and 'role="alert"' in refused.text
    assert REMOVE.findall(client.get("/").text) == [action]


def test_removing_one_of_two_asks_the_password_then_logs_and_mails(portal: Portal) -> None:
    client = portal.client()
    set_up_account(portal, client, EMAIL)
    user_id = portal.services.accounts.find_user(EMAIL)
    assert user_id is not None
    add_passkey(portal.services, portal.clock, user_id)
    portal.clock.advance(minutes=16)
    home = client.get("/")
    app_action, key_action = REMOVE.findall(home.text)
    assert "/passkey/" in key_action
    asked = form_post(client, key_action, home.text)
    assert asked.status_code == 303 and asked.headers["location"] == "/bevestigen?terug=/"
    confirm = client.get(asked.headers["location"])
    form_post(client, "/bevestigen", confirm.text, password=GOOD, terug="/")
    home = client.get("/")
    done = form_post(client, key_action, home.text)
    assert done.status_code == 303 and done.headers["location"] == "/?melding=verwijderd"
    after = client.get(done.headers["location"]).text
    assert "De tweede stap is verwijderd." in after and "Passkey laptop" not in after
    assert REMOVE.findall(after) == [app_action]
    assert portal.mailer.last_to(EMAIL).subject == "Tweede stap verwijderd"
    assert "passkey verwijderd" in client.get("/beveiligingslog").text
