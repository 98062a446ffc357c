"""Rendering pages and guarding routes: templates, who is signed in, redirects."""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import quote

from fastapi import Request
from fastapi.responses import HTMLResponse, RedirectResponse
from fastapi.templating import Jinja2Templates

from zorgbroker.accounts.models import ORGANISATION_ADMIN, REGISTRY_ADMIN, ROLE_LABELS
from zorgbroker.accounts.policy import PasswordPolicy
from zorgbroker.accounts.services import UserView
from zorgbroker.portal.security import csrf_token, current_session, services_of

TEMPLATES = Jinja2Templates(directory=Path(__file__).resolve().parent / "templates")
TEMPLATES.env.globals["role_labels"] = ROLE_LABELS


class RedirectTo(Exception):
    """Raised by a guard: the browser goes elsewhere first (sign in, re-authenticate)."""

    def __init__(self, url: str) -> None:
        super().__init__(url)
        self.url = url


def redirect(url: str) -> RedirectResponse:
    # 303: the browser follows a POST's answer with a GET.
    return RedirectResponse(url, status_code=303)


def render(request: Request, template: str, status_code: int = 200, **values: Any) -> HTMLResponse:
    session = current_session(request)
    user = request.state.user if hasattr(request.state, "user") else None
    if user is None and session is not None and session.signed_in and session.user_id:
        user = services_of(request).accounts.user(session.user_id)
    values.setdefault("error", None)
    return TEMPLATES.TemplateResponse(
        request,
        template,
        {
            "csrf_token": csrf_token(request),
            "user": user,
            "demo": request.app.state.mailer is not None,
            "is_admin": bool(user and {ORGANISATION_ADMIN, REGISTRY_ADMIN} & user.roles),
            **values,
        },
        status_code=status_code,
    )


def strength_meter(
    request: Request, user_id: int, policy: PasswordPolicy, password: str
) -> HTMLResponse:
    """The password meter's fragment, asked for by htmx while the user types (nothing is
    stored): empty for an empty field, else the policy's problems and the strength."""
    if not password:
        return render(request, "sterkte.html", policy=policy, problems=[], percent=0)
    problems, measured = services_of(request).accounts.rate_password(user_id, password)
    return render(request, "sterkte.html", policy=policy, problems=problems,
                  percent=measured.percent)  # fmt: skip


def signed_in_user(request: Request) -> UserView:
    """The signed-in user, or a redirect to the sign-in page."""
    session = current_session(request)
    if session is None or not session.signed_in or session.user_id is None:
        raise RedirectTo("/aanmelden")
    user = services_of(request).accounts.user(session.user_id)
    request.state.user = user
    return user


def pending_user_id(request: Request) -> int:
    """The user between password and second factor (or signed in: the wizard serves both)."""
    session = current_session(request)
    if session is None or session.user_id is None or not (session.pending or session.signed_in):
        raise RedirectTo("/aanmelden")
    return session.user_id


def administrator(request: Request) -> UserView:
    user = signed_in_user(request)
    if not {ORGANISATION_ADMIN, REGISTRY_ADMIN} & user.roles:
        raise RedirectTo("/")
    return user


def recently_authenticated(request: Request, back_to: str) -> None:
    """Sensitive changes (factors, roles, policy) need the password within 15 minutes."""
    session = current_session(request)
    assert session is not None
    if services_of(request).sessions.needs_reauthentication(session):
        raise RedirectTo(f"/bevestigen?terug={quote(back_to)}")
