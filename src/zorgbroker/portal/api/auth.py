"""Bearer tokens: who a request acts for, or a 401 that says how to authenticate."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, HTTPException, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from zorgbroker.accounts.api_tokens import ApiPrincipal
from zorgbroker.accounts.services import AccountServices

BEARER = HTTPBearer(
    auto_error=False,
    scheme_name="api-sleutel",
    description="Een API-sleutel uit het portaal (API-sleutels): `Authorization: Bearer zbt_...`.",
)


def _challenge(error: str, detail: str) -> HTTPException:
    return HTTPException(
        401, detail, headers={"WWW-Authenticate": f'Bearer realm="zorgbroker", error="{error}"'}
    )


def principal(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(BEARER)],
) -> ApiPrincipal:
    services: AccountServices = request.app.state.services
    if credentials is None:
        raise _challenge(
            "invalid_request",
            "Geen API-sleutel meegestuurd; stuur de kop 'Authorization: Bearer <sleutel>'.",
        )
    found = services.api_tokens.verify(credentials.credentials)
    if found is None:
        raise _challenge(
            "invalid_token",
            "De API-sleutel is onbekend, ingetrokken of verlopen; maak een nieuwe in het portaal "
            "onder API-sleutels.",
        )
    if not services.limiter.hit("api-token", str(found.token_id)):
        raise HTTPException(
            429,
            "Te veel verzoeken met deze API-sleutel; wacht een minuut.",
            headers={"Retry-After": "60"},
        )
    return found


Principal = Annotated[ApiPrincipal, Depends(principal)]
