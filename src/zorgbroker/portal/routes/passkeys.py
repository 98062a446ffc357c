"""Passkeys over JSON for static/passkey.js: the second step, and adding one when signed in."""

from __future__ import annotations

import json
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response

from zorgbroker.accounts.interfaces import AccountError
from zorgbroker.portal.pages import RedirectTo, recently_authenticated, signed_in_user
from zorgbroker.portal.security import context_of, services_of, session_token, use_session

router = APIRouter()


async def _body(request: Request) -> dict[str, Any]:
    try:
        body = json.loads(await request.body() or b"{}")
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


def _options(text: str) -> Response:
    return Response(text, media_type="application/json")


@router.post("/aanmelden/passkey/opties")
def sign_in_options(request: Request) -> Response:
    try:
        return _options(services_of(request).authentication.passkey_options(session_token(request)))
    except AccountError as refused:
        return JSONResponse({"error": refused.message}, status_code=400)


@router.post("/aanmelden/passkey")
async def sign_in_with_passkey(request: Request) -> Response:
    body = await _body(request)
    try:
        result = services_of(request).authentication.verify_passkey(
            session_token(request), str(body.get("credential", "")), context_of(request)
        )
    except AccountError as refused:
        return JSONResponse({"error": refused.message}, status_code=400)
    use_session(request, result.session_token)
    return JSONResponse({"next": "/"})


@router.post("/passkeys/opties")
def add_options(request: Request) -> Response:
    signed_in_user(request)
    try:
        recently_authenticated(request, "/")
    except RedirectTo as first:
        # Adding a factor needs the password within 15 minutes: the script goes there first.
        return JSONResponse({"next": first.url})
    return _options(
        services_of(request).authentication.passkey_registration_options(session_token(request))
    )


@router.post("/passkeys")
async def add(request: Request) -> Response:
    signed_in_user(request)
    recently_authenticated(request, "/")
    body = await _body(request)
    try:
        services_of(request).authentication.add_passkey(
            session_token(request), str(body.get("credential", "")), str(body.get("name", "")),
            context_of(request),
        )  # fmt: skip
    except AccountError as refused:
        return JSONResponse({"error": refused.message}, status_code=400)
    return JSONResponse({"next": "/?melding=passkey"})
