"""API-sleutels: a user's tokens for the API (`/api/v1`, `zorgbroker submit --portal`):
the list with last use, making one (its secret shown once, on this answer only), revoking."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import Response

from zorgbroker.accounts.api_tokens import TOKEN_ROLES, NewToken
from zorgbroker.accounts.interfaces import AccountError
from zorgbroker.accounts.services import UserView
from zorgbroker.portal.pages import RedirectTo, redirect, render, signed_in_user
from zorgbroker.portal.security import context_of, services_of

router = APIRouter()
PAGE = "api/sleutels.html"
#: The validity a user can choose, in days ("" and 0: until revoked).
VALIDITY = {"": 0, "0": 0, "90": 90, "365": 365}


def _token_holder(request: Request) -> UserView:
    user = signed_in_user(request)
    if not (user.roles & TOKEN_ROLES):
        raise RedirectTo("/")
    return user


def _page(
    request: Request,
    user: UserView,
    *,
    status_code: int = 200,
    made: NewToken | None = None,
    message: str | None = None,
    error: str | None = None,
) -> Response:
    return render(
        request, PAGE, status_code=status_code,
        tokens=services_of(request).api_tokens.list(user.id), made=made, message=message,
        error=error, portal_url=request.app.state.origin,
        api_url=f"{request.app.state.origin}/api/v1",
    )  # fmt: skip


@router.get("/api-sleutels")
def tokens_page(request: Request, melding: str = "") -> Response:
    user = _token_holder(request)
    messages = {"ingetrokken": "De API-sleutel is ingetrokken; hij werkt niet meer."}
    return _page(request, user, message=messages.get(melding))


@router.post("/api-sleutels")
def create_token(
    request: Request, name: Annotated[str, Form()] = "", dagen: Annotated[str, Form()] = ""
) -> Response:
    user = _token_holder(request)
    if dagen not in VALIDITY:
        return _page(request, user, status_code=422, error="Kies hoe lang de sleutel geldig is.")
    days = VALIDITY[dagen]
    try:
        made = services_of(request).api_tokens.create(
            user.id, name, context_of(request),
            valid_for=dt.timedelta(days=days) if days else None,
        )  # fmt: skip
    except AccountError as refused:
        return _page(request, user, status_code=422, error=refused.message)
    # The secret goes out in this answer only (never in a URL or a redirect): shown once.
    return _page(request, user, made=made)


@router.post("/api-sleutels/{token_id}/intrekken")
def revoke_token(request: Request, token_id: int) -> Response:
    user = _token_holder(request)
    try:
        services_of(request).api_tokens.revoke(user.id, token_id, context_of(request))
    except AccountError as refused:
        return _page(request, user, status_code=404, error=refused.message)
    return redirect("/api-sleutels?melding=ingetrokken")
