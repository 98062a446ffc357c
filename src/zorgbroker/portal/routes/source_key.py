"""`GET /aanleveren/sleutel/{registry}`: the signed-in uploader's wrapped source key, relayed.

The browser's stage 1 needs the project's source key; the TTP keeps it wrapped under the user's
TTP password (docs/pseudonymisation.md, section 9). The portal only relays that wrapping, for the
signed-in user's own e-mail address and organisation: it never sees the password or the key, and
it asks the TTP for nobody else (there is no parameter naming a user).
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from zorgbroker.accounts.models import UPLOADER
from zorgbroker.logging import get_logger
from zorgbroker.portal.security import current_session, services_of
from zorgbroker.pseudonymisation.client import WrappedKeySource
from zorgbroker.pseudonymisation.errors import RateLimited, TTPError

router = APIRouter()
log = get_logger(__name__)

#: The answer is something to guess a password against: no cache keeps it.
_NOT_KEPT = {"Cache-Control": "no-store"}


def _answer(status: int, detail: str) -> JSONResponse:
    return JSONResponse({"detail": detail}, status_code=status, headers=_NOT_KEPT)


@router.get("/aanleveren/sleutel/{registry}")
def wrapped_source_key(request: Request, registry: str) -> Any:
    session = current_session(request)
    if session is None or not session.signed_in or session.user_id is None:
        return _answer(401, "U bent niet aangemeld.")
    user = services_of(request).accounts.user(session.user_id)
    if UPLOADER not in user.roles:
        return _answer(403, "Alleen een aanleveraar kan de sleutel voor het aanleveren ophalen.")
    agb = user.organisation_agb
    source: WrappedKeySource | None = getattr(request.app.state, "source_keys", None)
    if agb is None or source is None:
        return _answer(404, "Voor uw organisatie is geen sleutel bij de TTP bekend.")
    try:
        wrapped = source.wrapped_source_key(user.email, agb, registry)
    except RateLimited:
        return _answer(429, "Te veel verzoeken om de sleutel; probeer het over een minuut opnieuw.")
    except TTPError as error:
        # The kind only: the TTP's message may name the user.
        log.warning("source_key.ttp_failed", error=type(error).__name__)
        return _answer(503, "De TTP is nu niet bereikbaar; probeer het later opnieuw.")
    if wrapped is None:
        return _answer(
            404,
            f"De TTP heeft voor u geen sleutel voor register {registry}: vraag de TTP om een "
            "link om uw TTP-wachtwoord in te stellen.",
        )
    return JSONResponse(wrapped, headers=_NOT_KEPT)
