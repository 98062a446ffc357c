"""Every response's headers; CSRF refused without the token or from another origin; cookies."""

from __future__ import annotations

import pytest

from tests.portal.conftest import ORIGIN, Portal, csrf
from zorgbroker.portal.security import SECURITY_HEADERS

PAGES = [
    "/aanmelden",
    "/aanmelden/tweede-stap",
    "/wachtwoord-vergeten",
    "/",
    "/mijn-sessies",
    "/beveiligingslog",
    "/tweestap",
    "/organisatie/beleid",
    "/organisatie/gebruikers",
    "/demo/mailbox",
    "/bevestigen",
    "/uitnodiging/onbekend",
    "/aanmelden/token/onbekend",
    "/bestaat-niet",
    "/static/portal.css",
    "/static/vendor/htmx.min.js",
]


@pytest.mark.parametrize("path", PAGES)
def test_every_route_sends_the_security_headers(portal: Portal, path: str) -> None:
    response = portal.client().get(path)
    for name, value in SECURITY_HEADERS.items():
        assert response.headers.get(name) == value, name
    csp = response.headers["content-security-policy"]
    assert "'unsafe-inline'" not in csp and "frame-ancestors 'none'" in csp


def test_a_refused_post_sends_them_too(portal: Portal) -> None:
    response = portal.client().post("/aanmelden", data={"email": "a@b.nl", "password": "x"})
    assert response.status_code == 403
    assert response.headers["x-content-type-options"] == "nosniff"


def test_a_post_without_the_csrf_token_is_refused(portal: Portal) -> None:
    client = portal.client()
    client.get("/aanmelden")
    response = client.post(
        "/aanmelden", data={"email": "a@b.nl", "password": "x"}, headers={"Origin": ORIGIN}
    )
    assert response.status_code == 403 and "verlopen of ongeldig" in response.text


def test_a_post_with_another_sessions_token_is_refused(portal: Portal) -> None:
    mine, other = portal.client(), portal.client()
    token = csrf(other.get("/aanmelden").text)
    mine.get("/aanmelden")
    response = mine.post(
        "/aanmelden",
        data={"csrf_token": token, "email": "a@b.nl", "password": "x"},
        headers={"Origin": ORIGIN},
    )
    assert response.status_code == 403


@pytest.mark.parametrize(
    "headers",
    [
        {"Origin": "https://evil.example"},
        {"Origin": "null"},
        {"Referer": "https://evil.example/page"},
        {"Sec-Fetch-Site": "cross-site"},
    ],
)
def test_a_post_from_another_origin_is_refused_even_with_the_token(
    portal: Portal, headers: dict[str, str]
) -> None:
    client = portal.client()
    token = csrf(client.get("/aanmelden").text)
    response = client.post(
        "/aanmelden",
        data={"csrf_token": token, "email": "a@b.nl", "password": "x"},
        headers=headers,
    )
    assert response.status_code == 403 and "niet van deze website" in response.text


def test_the_right_token_from_our_origin_reaches_the_form(portal: Portal) -> None:
    client = portal.client()
    token = csrf(client.get("/aanmelden").text)
    response = client.post(
        "/aanmelden",
        data={"csrf_token": token, "email": "a@b.nl", "password": "x"},
        headers={"Origin": ORIGIN},
    )
    assert response.status_code == 401 and "klopt niet" in response.text


def test_cookies_are_host_prefixed_secure_httponly_lax(portal: Portal) -> None:
    response = portal.client().get("/aanmelden")
    cookies = response.headers.get_list("set-cookie")
    assert len(cookies) == 2
    for cookie in cookies:
        lowered = cookie.lower()
        assert cookie.startswith("__Host-")
        assert "secure" in lowered and "httponly" in lowered and "samesite=lax" in lowered
        assert "path=/" in lowered and "domain=" not in lowered


def test_a_get_changes_nothing(portal: Portal) -> None:
    client = portal.client()
    for path in ("/afmelden", "/tweestap/klaar", "/mijn-sessies/anderen-afmelden"):
        assert client.get(path).status_code == 405
