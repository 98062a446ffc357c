"""The signed-in user's own pages: home, Mijn sessies, the security log, re-authentication."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import Response

from zorgbroker.accounts.interfaces import AccountError, SignInRefused, WeakPassword
from zorgbroker.portal.pages import redirect, render, signed_in_user, strength_meter
from zorgbroker.portal.security import context_of, current_session, services_of, session_token

router = APIRouter()


@router.get("/")
def home(request: Request, melding: str = "") -> Response:
    user = signed_in_user(request)
    messages = {
        "passkey": "De passkey is toegevoegd.",
        "verwijderd": "De tweede stap is verwijderd.",
    }
    return render(request, "home.html", message=messages.get(melding),
                  factors=services_of(request).two_factor.factors(user.id))  # fmt: skip


@router.get("/mijn-sessies")
def my_sessions(request: Request, melding: str = "") -> Response:
    user = signed_in_user(request)
    services = services_of(request)
    session = current_session(request)
    assert session is not None
    messages = {
        "afgemeld": "De sessie is afgemeld.",
        "anderen": "Alle andere sessies zijn afgemeld.",
        "vergeten": "De browser is vergeten.",
    }
    return render(
        request, "sessies.html", sessions=services.sessions.active(user.id),
        browsers=services.sessions.trusted_browsers(user.id), current_id=session.id,
        message=messages.get(melding),
    )  # fmt: skip


@router.post("/mijn-sessies/{session_id}/afmelden")
def end_session(request: Request, session_id: int) -> Response:
    user = signed_in_user(request)
    services_of(request).sessions.end_one(user.id, session_id, context_of(request))
    return redirect("/mijn-sessies?melding=afgemeld")


@router.post("/mijn-sessies/anderen-afmelden")
def end_others(request: Request) -> Response:
    user = signed_in_user(request)
    session = current_session(request)
    assert session is not None
    services_of(request).sessions.end_others(user.id, session.id, context_of(request))
    return redirect("/mijn-sessies?melding=anderen")


@router.post("/mijn-sessies/browser/{browser_id}/vergeten")
def forget_browser(request: Request, browser_id: int) -> Response:
    user = signed_in_user(request)
    services_of(request).sessions.forget_browser(user.id, browser_id, context_of(request))
    return redirect("/mijn-sessies?melding=vergeten")


@router.get("/beveiligingslog")
def security_log(request: Request) -> Response:
    user = signed_in_user(request)
    services = services_of(request)
    return render(request, "log.html", events=services.security_log.for_user(services.db, user.id))


def _safe_back(value: str) -> str:
    # Only a path on this site: never an open redirect.
    return value if value.startswith("/") and not value.startswith("//") else "/"


@router.get("/bevestigen")
def reauthenticate_page(request: Request, terug: str = "/") -> Response:
    signed_in_user(request)
    return render(request, "bevestigen.html", back=_safe_back(terug))


@router.post("/bevestigen")
def reauthenticate(
    request: Request, password: Annotated[str, Form()], terug: Annotated[str, Form()] = "/"
) -> Response:
    signed_in_user(request)
    back = _safe_back(terug)
    try:
        services_of(request).authentication.reauthenticate(
            session_token(request), password, context_of(request)
        )
    except SignInRefused as refused:
        return render(request, "bevestigen.html", status_code=401, back=back,
                      error=refused.message)  # fmt: skip
    return redirect(back)


def _password_page(
    request: Request, status_code: int = 200, problems: list[str] | None = None,
    percent: int = 0, expired: bool = False,
) -> Response:  # fmt: skip
    user = signed_in_user(request)
    policy = services_of(request).accounts.organisation_policy(user.organisation_id)
    return render(request, "wachtwoord.html", status_code=status_code, policy=policy,
                  problems=problems or [], percent=percent, expired=expired)  # fmt: skip


@router.get("/wachtwoord")
def password_page(request: Request, verlopen: str = "") -> Response:
    return _password_page(request, expired=bool(verlopen))


@router.post("/wachtwoord/sterkte")
def password_strength(request: Request, password: Annotated[str, Form()] = "") -> Response:
    user = signed_in_user(request)
    policy = services_of(request).accounts.organisation_policy(user.organisation_id)
    return strength_meter(request, user.id, policy, password)


@router.post("/wachtwoord")
def change_password(
    request: Request,
    current: Annotated[str, Form()],
    password: Annotated[str, Form()],
    repeat: Annotated[str, Form()],
    end_others: Annotated[bool, Form()] = False,
) -> Response:
    user = signed_in_user(request)
    session = current_session(request)
    assert session is not None
    if password != repeat:
        return _password_page(request, 400, ["De twee nieuwe wachtwoorden zijn niet gelijk."])
    try:
        services_of(request).accounts.change_password(
            user.id, current, password, context_of(request),
            end_other_sessions_than=session.id if end_others else None,
        )  # fmt: skip
    except WeakPassword as weak:
        return _password_page(request, 400, weak.problems, weak.strength)
    except AccountError as wrong:
        return _password_page(request, 400, [wrong.message])
    return render(
        request,
        "melding.html",
        title="Wachtwoord gewijzigd",
        message="Uw wachtwoord is gewijzigd.",
        link=("/", "Naar de startpagina"),
    )
