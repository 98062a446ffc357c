"""The two-step wizard the practices know: an activation code by mail, a QR code for an
authenticator app confirmed with a first code, recovery codes shown once."""

from __future__ import annotations

from typing import Annotated

import segno
from fastapi import APIRouter, Form, Request
from fastapi.responses import Response

from zorgbroker.accounts.interfaces import AccountError
from zorgbroker.accounts.two_factor import TotpEnrolment
from zorgbroker.portal.pages import (
    RedirectTo,
    pending_user_id,
    recently_authenticated,
    redirect,
    render,
)
from zorgbroker.portal.security import (
    context_of,
    current_session,
    services_of,
    session_token,
    use_session,
)

router = APIRouter()


def _guard(request: Request) -> int:
    user_id = pending_user_id(request)
    session = current_session(request)
    if (
        session is not None
        and session.pending
        and (services_of(request).two_factor.user_has_factor(user_id))
    ):
        # Past the password only: a user with a factor proves it first, never replaces it here.
        raise RedirectTo("/aanmelden/tweede-stap")
    if session is not None and session.signed_in:
        # Adding or replacing a factor on a signed-in account is a sensitive change.
        recently_authenticated(request, "/tweestap")
    return user_id


def _app_step(request: Request, enrolment: TotpEnrolment, error: str | None = None) -> Response:
    qr = segno.make(enrolment.uri, error="m")
    grouped = " ".join(enrolment.secret[i : i + 4] for i in range(0, len(enrolment.secret), 4))
    return render(request, "tweestap_app.html", status_code=400 if error else 200, error=error,
                  qr=qr.svg_data_uri(scale=5, dark="#000", light="#fff"),
                  secret=grouped)  # fmt: skip


@router.get("/tweestap")
def start(request: Request) -> Response:
    _guard(request)
    return render(request, "tweestap_start.html")


@router.post("/tweestap/activeringscode")
def send_activation_code(request: Request) -> Response:
    user_id = _guard(request)
    try:
        services_of(request).two_factor.send_activation_code(user_id, context_of(request))
    except AccountError as refused:
        return render(request, "tweestap_start.html", status_code=429, error=refused.message)
    return render(request, "tweestap_code.html")


@router.post("/tweestap/activeren")
def activate(request: Request, code: Annotated[str, Form()]) -> Response:
    user_id = _guard(request)
    two_factor = services_of(request).two_factor
    try:
        two_factor.check_activation_code(user_id, code)
    except AccountError as wrong:
        return render(request, "tweestap_code.html", status_code=400, error=wrong.message)
    return _app_step(request, two_factor.begin_totp(user_id))


@router.post("/tweestap/bevestigen")
def confirm(request: Request, code: Annotated[str, Form()]) -> Response:
    user_id = _guard(request)
    two_factor = services_of(request).two_factor
    enrolment = two_factor.pending_enrolment(user_id)
    if enrolment is None or not two_factor.activated(user_id):
        return redirect("/tweestap")
    try:
        codes = two_factor.confirm_totp(user_id, code, context_of(request))
    except AccountError as wrong:
        return _app_step(request, enrolment, wrong.message)
    return render(request, "tweestap_herstelcodes.html", codes=codes)


@router.post("/tweestap/klaar")
def done(request: Request) -> Response:
    session = current_session(request)
    if session is not None and session.pending:
        try:
            token = services_of(request).authentication.complete_enrolment(
                session_token(request), context_of(request)
            )
        except AccountError:
            return redirect("/tweestap")
        use_session(request, token)
    return redirect("/")
