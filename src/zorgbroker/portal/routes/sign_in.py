"""Signing in: the password, then the second factor (app code, recovery code, mailed token)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import Response

from zorgbroker.accounts.authentication import SECOND_FACTOR, SETUP_SECOND_FACTOR, SignInResult
from zorgbroker.accounts.interfaces import AccountError, InvalidCode, SignInRefused
from zorgbroker.portal.pages import redirect, render
from zorgbroker.portal.security import (
    context_of,
    current_session,
    drop_session,
    services_of,
    session_token,
    use_session,
)

router = APIRouter()

#: A page of this site to return to once signed in (MedMij consent sets it).
RETURN_COOKIE = "__Host-zb-terug"


def _signed_in_page(request: Request) -> Response:
    target = request.cookies.get(RETURN_COOKIE, "")
    if not target.startswith("/") or target.startswith("//"):  # never an open redirect
        return redirect("/")
    response = redirect(target)
    response.delete_cookie(RETURN_COOKIE, path="/", secure=True, httponly=True, samesite="lax")
    return response


def _next_page(request: Request, result: SignInResult) -> Response:
    use_session(request, result.session_token)
    if result.step == SECOND_FACTOR:
        return redirect("/aanmelden/tweede-stap")
    if result.step == SETUP_SECOND_FACTOR:
        return redirect("/tweestap")
    if result.password_expired:
        return redirect("/wachtwoord?verlopen=1")
    return _signed_in_page(request)


@router.get("/aanmelden")
def sign_in_page(request: Request) -> Response:
    session = current_session(request)
    if session is not None and session.signed_in:
        return redirect("/")
    return render(request, "aanmelden.html", email="")


@router.post("/aanmelden")
def sign_in(
    request: Request, email: Annotated[str, Form()], password: Annotated[str, Form()]
) -> Response:
    auth = services_of(request).authentication
    try:
        result = auth.sign_in(session_token(request), email, password, context_of(request))
    except SignInRefused as refused:
        return render(request, "aanmelden.html", status_code=401, error=refused.message,
                      email=email)  # fmt: skip
    return _next_page(request, result)


@router.get("/aanmelden/tweede-stap")
def second_factor_page(request: Request) -> Response:
    session = current_session(request)
    if session is None or not session.pending:
        return redirect("/aanmelden")
    return render(request, "tweede_stap.html", sent=False)


def _factor(request: Request, check: str, value: str) -> Response:
    auth = services_of(request).authentication
    context = context_of(request)
    token = session_token(request)
    try:
        if check == "totp":
            result = auth.verify_totp(token, value, context)
        elif check == "herstelcode":
            result = auth.verify_recovery_code(token, value, context)
        else:
            result = auth.verify_login_token(token, context, code=value)
    except SignInRefused as refused:
        return render(request, "aanmelden.html", status_code=401, error=refused.message, email="")
    except InvalidCode as wrong:
        return render(request, "tweede_stap.html", status_code=400, error=wrong.message,
                      sent=check == "mailcode", active=check)  # fmt: skip
    return _next_page(request, result)


@router.post("/aanmelden/totp")
def totp(request: Request, code: Annotated[str, Form()]) -> Response:
    return _factor(request, "totp", code)


@router.post("/aanmelden/herstelcode")
def recovery_code(request: Request, code: Annotated[str, Form()]) -> Response:
    return _factor(request, "herstelcode", code)


@router.post("/aanmelden/mailcode")
def mailed_code(request: Request, code: Annotated[str, Form()]) -> Response:
    return _factor(request, "mailcode", code)


@router.post("/aanmelden/token-versturen")
def send_token(request: Request) -> Response:
    try:
        services_of(request).authentication.send_login_token(
            session_token(request), context_of(request)
        )
    except SignInRefused as refused:
        return render(request, "aanmelden.html", status_code=401, error=refused.message, email="")
    except AccountError as refused:
        return render(request, "tweede_stap.html", status_code=429, error=refused.message,
                      sent=False)  # fmt: skip
    return render(request, "tweede_stap.html", sent=True, active="mailcode")


@router.get("/aanmelden/token/{token}")
def token_link(request: Request, token: str) -> Response:
    """The mailed link: a GET changes nothing (mail scanners follow links); a button posts."""
    return render(request, "token_bevestigen.html", token=token)


@router.post("/aanmelden/token/{token}")
def use_token_link(request: Request, token: str) -> Response:
    auth = services_of(request).authentication
    try:
        result = auth.verify_login_token(session_token(request), context_of(request), token=token)
    except AccountError as refused:
        return render(request, "token_bevestigen.html", status_code=400, token=None,
                      error=refused.message)  # fmt: skip
    return _next_page(request, result)


@router.post("/afmelden")
def sign_out(request: Request) -> Response:
    services_of(request).sessions.end(session_token(request), context_of(request))
    drop_session(request)
    return render(request, "melding.html", title="Afgemeld", message="U bent afgemeld.")


@router.get("/wachtwoord-vergeten")
def forgot_page(request: Request) -> Response:
    return render(request, "wachtwoord_vergeten.html", sent=False)


@router.post("/wachtwoord-vergeten")
def forgot(request: Request, email: Annotated[str, Form()]) -> Response:
    services = services_of(request)
    services.accounts.request_password_reset(email, services.limiter, context_of(request))
    return render(request, "wachtwoord_vergeten.html", sent=True)
