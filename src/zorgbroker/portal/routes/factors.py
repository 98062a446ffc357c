"""Removing one of one's own second factors from the start page, after re-authentication."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response

from zorgbroker.accounts.interfaces import AccountError
from zorgbroker.portal.pages import recently_authenticated, redirect, render, signed_in_user
from zorgbroker.portal.security import context_of, services_of

router = APIRouter()


@router.post("/tweede-stap/{kind}/{factor_id}/verwijderen")
def remove(request: Request, kind: str, factor_id: int) -> Response:
    user = signed_in_user(request)
    recently_authenticated(request, "/")
    two_factor = services_of(request).two_factor
    try:
        two_factor.remove_factor(user.id, kind, factor_id, context_of(request))
    except AccountError as refused:
        return render(request, "home.html", status_code=400, message=None,
                      factors=two_factor.factors(user.id), error=refused.message)  # fmt: skip
    return redirect("/?melding=verwijderd")
