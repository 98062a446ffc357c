"""The TTP's own web pages and the relay endpoint of the browser's source key.

- `GET/POST /wachtwoord/{link}`: a source user sets their TTP password (Dutch pages, served by
  the TTP itself, never by the registry's portal). Plain HTML forms without script: nothing on
  the page but the form can see the password.
- `GET /v1/registries/{R}/source-keys?email=E&organisation=AGB`: the wrapped source key of
  exactly that user, for the registry's portal to relay; authenticated with a TTP token like
  every /v1 call, and rate-limited more tightly than pseudonymisation (each answer is something
  to guess passwords against).
"""

from __future__ import annotations

from collections.abc import Callable
from html import escape
from typing import Annotated, Any

from fastapi import FastAPI, Form, Header, Query
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, JSONResponse

from zorgbroker.pseudonymisation.enrolment import (
    Enrolment,
    LinkInvalid,
    PasswordRefused,
    SourceKeyCustody,
)
from zorgbroker.pseudonymisation.errors import RateLimited
from zorgbroker.pseudonymisation.ratelimit import Limits, RateLimiter
from zorgbroker.pseudonymisation.ttp_password import MIN_LENGTH

#: Wrapped-key requests per token: a portal asks once per upload page, not in bulk.
KEY_LIMITS = Limits(requests_per_second=0.5, request_burst=30.0)

_PAGE_HEADERS = {
    # The link's token is in the address: it must not travel on in a Referer header.
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
    "Content-Security-Policy": "default-src 'none'; form-action 'self'; frame-ancestors 'none'",
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
}


def _page(title: str, body: str, status: int = 200) -> HTMLResponse:
    html = (
        '<!doctype html>\n<html lang="nl">\n<head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{escape(title)} · TTP</title></head>\n<body>\n"
        f"<h1>{escape(title)}</h1>\n{body}\n</body>\n</html>\n"
    )
    return HTMLResponse(html, status_code=status, headers=_PAGE_HEADERS)


def _form(enrolment: Enrolment, problems: list[str]) -> str:
    listed = "".join(f"<li>{escape(p)}</li>" for p in problems)
    warning = f'<ul role="alert">{listed}</ul>' if problems else ""
    return (
        f"<p>U stelt het TTP-wachtwoord in van <strong>{escape(enrolment.email)}</strong> voor "
        f"register <strong>{escape(enrolment.registry)}</strong> (organisatie AGB "
        f"{escape(enrolment.organisation)}).</p>\n"
        "<p>Met dit wachtwoord opent uw browser bij het aanleveren de projectsleutel. De TTP "
        "bewaart het wachtwoord niet en het register krijgt het nooit: kies een ander wachtwoord "
        f"dan voor het portaal, van minstens {MIN_LENGTH} tekens. Een zin van vier of meer "
        "ongewone woorden is sterk en goed te onthouden.</p>\n"
        f"{warning}\n"
        '<form method="post" autocomplete="off">\n'
        '<p><label for="wachtwoord">Nieuw TTP-wachtwoord</label><br>'
        '<input id="wachtwoord" name="wachtwoord" type="password" required '
        f'minlength="{MIN_LENGTH}" autocomplete="new-password"></p>\n'
        '<p><label for="herhaling">Nog een keer</label><br>'
        '<input id="herhaling" name="herhaling" type="password" required '
        f'minlength="{MIN_LENGTH}" autocomplete="new-password"></p>\n'
        '<p><button type="submit">TTP-wachtwoord instellen</button></p>\n</form>'
    )


def _invalid_link() -> HTMLResponse:
    return _page("Link niet geldig", f"<p>{escape(str(LinkInvalid()))}</p>", status=404)


def add_source_key_routes(
    app: FastAPI, custody: SourceKeyCustody, organisation: Callable[[str | None, str | None], str]
) -> None:
    """Add the password pages and the wrapped-key endpoint to the TTP's app. `organisation`
    authenticates a /v1 request as the service does (token, claimed source)."""
    limiter = RateLimiter(KEY_LIMITS)

    @app.get("/wachtwoord/{link}", response_class=HTMLResponse)
    async def password_page(link: str) -> HTMLResponse:
        try:
            enrolment = await run_in_threadpool(custody.enrolment_for_link, link)
        except LinkInvalid:
            return _invalid_link()
        return _page("TTP-wachtwoord instellen", _form(enrolment, []))

    @app.post("/wachtwoord/{link}", response_class=HTMLResponse)
    async def set_password(
        link: str,
        wachtwoord: Annotated[str, Form()],
        herhaling: Annotated[str, Form()],
    ) -> HTMLResponse:
        try:
            enrolment = await run_in_threadpool(custody.enrolment_for_link, link)
            if wachtwoord != herhaling:
                problems = ["De twee wachtwoorden zijn niet gelijk."]
                return _page("TTP-wachtwoord instellen", _form(enrolment, problems), 422)
            await run_in_threadpool(custody.set_password, link, wachtwoord)
        except LinkInvalid:
            return _invalid_link()
        except PasswordRefused as refused:
            return _page("TTP-wachtwoord instellen", _form(enrolment, refused.problems), 422)
        return _page(
            "TTP-wachtwoord ingesteld",
            f"<p>Uw TTP-wachtwoord voor register {escape(enrolment.registry)} is ingesteld. "
            "U gebruikt het op de aanleverpagina van het portaal; deze link werkt niet meer.</p>",
        )

    @app.get("/v1/registries/{registry}/source-keys")
    async def wrapped_key(
        registry: str,
        email: str,
        organisation_agb: Annotated[str, Query(alias="organisation")],
        authorization: Annotated[str | None, Header()] = None,
        x_zorgbroker_source: Annotated[str | None, Header()] = None,
    ) -> Any:
        asked_by = organisation(authorization, x_zorgbroker_source)
        if limiter.check(asked_by, 0):
            raise RateLimited("Te veel verzoeken om een sleutelomslag; probeer het zo opnieuw.")
        found = await run_in_threadpool(
            custody.wrapped_key, email, organisation_agb, registry, asked_by=asked_by
        )
        if found is None:
            return JSONResponse(
                {"detail": "Geen sleutelomslag voor deze gebruiker en dit register."},
                status_code=404,
            )
        return found.to_json()
