"""The invitation link: set a password, with a strength meter showing the policy's minimum."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import Response

from zorgbroker.accounts.interfaces import InvalidLink, WeakPassword
from zorgbroker.portal.pages import render, strength_meter
from zorgbroker.portal.security import context_of, services_of

router = APIRouter()


@router.get("/uitnodiging/{token}")
def invitation_page(request: Request, token: str) -> Response:
    try:
        user, policy = services_of(request).accounts.invitation(token)
    except InvalidLink as invalid:
        return render(request, "fout.html", status_code=404, title="Link niet geldig",
                      message=invalid.message)  # fmt: skip
    return render(request, "uitnodiging.html", token=token, invited=user, policy=policy,
                  problems=[], percent=0)  # fmt: skip


@router.post("/uitnodiging/{token}/sterkte")
def strength(request: Request, token: str, password: Annotated[str, Form()] = "") -> Response:
    """The meter's fragment, asked for by htmx while the user types (nothing is stored)."""
    accounts = services_of(request).accounts
    try:
        user, policy = accounts.invitation(token)
    except InvalidLink:
        return render(request, "sterkte.html", policy=None, problems=[])
    return strength_meter(request, user.id, policy, password)


@router.post("/uitnodiging/{token}")
def set_password(
    request: Request,
    token: str,
    password: Annotated[str, Form()],
    repeat: Annotated[str, Form()],
) -> Response:
    accounts = services_of(request).accounts
    try:
        user, policy = accounts.invitation(token)
    except InvalidLink as invalid:
        return render(request, "fout.html", status_code=404, title="Link niet geldig",
                      message=invalid.message)  # fmt: skip
    problems: list[str] = []
    percent = 0
    if password != repeat:
        problems = ["De twee wachtwoorden zijn niet gelijk."]
    else:
        try:
            accounts.accept_invitation(token, password, context_of(request))
        except WeakPassword as weak:
            problems = weak.problems
            percent = weak.strength
    if problems:
        return render(request, "uitnodiging.html", status_code=400, token=token, invited=user,
                      policy=policy, problems=problems, percent=percent)  # fmt: skip
    return render(request, "melding.html", title="Wachtwoord ingesteld",
                  message="Uw wachtwoord is ingesteld. U kunt zich nu aanmelden.",
                  link=("/aanmelden", "Naar aanmelden"))  # fmt: skip
