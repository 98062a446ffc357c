"""Changing one's e-mail address: asked for after re-authentication, effective only once the
link mailed to the new address is followed."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import Response

from zorgbroker.accounts.interfaces import AccountError, InvalidLink
from zorgbroker.portal.pages import recently_authenticated, render, signed_in_user
from zorgbroker.portal.security import context_of, services_of

router = APIRouter()

PAGE = "/e-mailadres"


@router.get(PAGE)
def email_page(request: Request) -> Response:
    signed_in_user(request)
    recently_authenticated(request, PAGE)
    return render(request, "email.html", new_email="")


@router.post(PAGE)
def request_change(request: Request, email: Annotated[str, Form()]) -> Response:
    user = signed_in_user(request)
    recently_authenticated(request, PAGE)
    try:
        services = services_of(request)
        services.accounts.request_email_change(user.id, email, services.limiter,
                                               context_of(request))  # fmt: skip
    except AccountError as refused:
        return render(request, "email.html", status_code=400, new_email=email,
                      error=refused.message)  # fmt: skip
    return render(
        request,
        "melding.html",
        title="Bevestig uw nieuwe e-mailadres",
        message=f"We hebben een link gestuurd naar {email.strip()}. Uw e-mailadres wijzigt pas "
        "als u die link volgt; de link is 24 uur geldig.",
        link=("/", "Naar de startpagina"),
    )


def _invalid(request: Request, message: str) -> Response:
    return render(request, "fout.html", status_code=404, title="Link niet geldig",
                  message=message)  # fmt: skip


@router.get(PAGE + "/bevestigen/{token}")
def confirm_page(request: Request, token: str) -> Response:
    # A GET changes nothing: mail scanners open links.
    try:
        new_email = services_of(request).accounts.email_change(token)
    except InvalidLink as invalid:
        return _invalid(request, invalid.message)
    return render(request, "email_bevestigen.html", token=token, new_email=new_email)


@router.post(PAGE + "/bevestigen/{token}")
def confirm(request: Request, token: str) -> Response:
    try:
        services_of(request).accounts.confirm_email_change(token, context_of(request))
    except InvalidLink as invalid:
        return _invalid(request, invalid.message)
    except AccountError as refused:
        return render(request, "fout.html", status_code=409, title="E-mailadres niet gewijzigd",
                      message=refused.message)  # fmt: skip
    return render(
        request,
        "melding.html",
        title="E-mailadres gewijzigd",
        message="Uw e-mailadres is gewijzigd. Meld u voortaan met het nieuwe adres aan.",
        link=("/", "Naar de startpagina"),
    )
