"""For organisation administrators: the password policy and the users with their roles."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import Response

from zorgbroker.accounts.interfaces import AccountError
from zorgbroker.accounts.models import ORGANISATION_ADMIN, REGISTRY_ADMIN, UPLOADER
from zorgbroker.accounts.policy import PasswordPolicy
from zorgbroker.accounts.services import UserView
from zorgbroker.portal.pages import administrator, recently_authenticated, redirect, render
from zorgbroker.portal.security import context_of, services_of

router = APIRouter()


def _roles_for(admin: UserView, organisation_is_registry: bool) -> list[str]:
    if organisation_is_registry and REGISTRY_ADMIN in admin.roles:
        return [UPLOADER, ORGANISATION_ADMIN, REGISTRY_ADMIN]
    return [UPLOADER, ORGANISATION_ADMIN]


def _policy_page(request: Request, admin: UserView, policy: PasswordPolicy,
                 error: str | None = None, saved: bool = False) -> Response:  # fmt: skip
    return render(request, "beleid.html", status_code=400 if error else 200, policy=policy,
                  error=error, saved=saved, organisation=admin.organisation)  # fmt: skip


@router.get("/organisatie/beleid")
def policy_page(request: Request, opgeslagen: str = "") -> Response:
    admin = administrator(request)
    policy = services_of(request).accounts.organisation_policy(admin.organisation_id)
    return _policy_page(request, admin, policy, saved=bool(opgeslagen))


@router.post("/organisatie/beleid")
def save_policy(
    request: Request,
    min_strength: Annotated[int, Form()],
    min_length: Annotated[int, Form()],
    change_after_days: Annotated[int, Form()],
    warn_days: Annotated[int, Form()],
    disable_after_days: Annotated[int, Form()],
    attempts: Annotated[int, Form()],
    lock_minutes: Annotated[int, Form()],
    history: Annotated[int, Form()],
    two_step_required: Annotated[bool, Form()] = False,
) -> Response:
    admin = administrator(request)
    recently_authenticated(request, "/organisatie/beleid")
    policy = PasswordPolicy(
        min_strength=min_strength, min_length=min_length, change_after_days=change_after_days,
        warn_days=warn_days, disable_after_days=disable_after_days, attempts=attempts,
        lock_seconds=lock_minutes * 60, history=history, two_step_required=two_step_required,
    )  # fmt: skip
    try:
        services_of(request).accounts.set_policy(
            admin.id, admin.organisation_id, policy, context_of(request)
        )
    except AccountError as wrong:
        return _policy_page(request, admin, policy, wrong.message)
    return redirect("/organisatie/beleid?opgeslagen=1")


def _users_page(request: Request, admin: UserView, error: str | None = None,
                message: str | None = None) -> Response:  # fmt: skip
    accounts = services_of(request).accounts
    is_registry = REGISTRY_ADMIN in admin.roles
    return render(
        request,
        "gebruikers.html",
        status_code=400 if error else 200,
        users=accounts.users(admin.organisation_id),
        error=error,
        message=message,
        roles=_roles_for(admin, is_registry),
        organisation=admin.organisation,
    )


@router.get("/organisatie/gebruikers")
def users_page(request: Request, melding: str = "") -> Response:
    admin = administrator(request)
    messages = {
        "uitgenodigd": "De uitnodiging is verstuurd.",
        "rollen": "De rollen zijn opgeslagen.",
        "uit": "De gebruiker is uitgeschakeld; zijn sessies zijn beëindigd.",
        "aan": "De gebruiker is weer ingeschakeld.",
    }
    return _users_page(request, admin, message=messages.get(melding))


@router.post("/organisatie/gebruikers")
def invite(
    request: Request,
    email: Annotated[str, Form()],
    name: Annotated[str, Form()],
    roles: Annotated[list[str] | None, Form()] = None,
) -> Response:
    admin = administrator(request)
    try:
        services_of(request).accounts.invite(
            admin.id, admin.organisation_id, email, name, roles or [UPLOADER], context_of(request)
        )
    except AccountError as wrong:
        return _users_page(request, admin, wrong.message)
    return redirect("/organisatie/gebruikers?melding=uitgenodigd")


@router.post("/organisatie/gebruikers/{user_id}/rollen")
def set_roles(
    request: Request, user_id: int, roles: Annotated[list[str] | None, Form()] = None
) -> Response:
    admin = administrator(request)
    recently_authenticated(request, "/organisatie/gebruikers")
    try:
        services_of(request).accounts.set_roles(admin.id, user_id, roles or [], context_of(request))
    except AccountError as wrong:
        return _users_page(request, admin, wrong.message)
    return redirect("/organisatie/gebruikers?melding=rollen")


@router.post("/organisatie/gebruikers/{user_id}/uitschakelen")
def disable(request: Request, user_id: int) -> Response:
    admin = administrator(request)
    try:
        services_of(request).accounts.disable(admin.id, user_id, "door beheerder",
                                              context_of(request))  # fmt: skip
    except AccountError as wrong:
        return _users_page(request, admin, wrong.message)
    return redirect("/organisatie/gebruikers?melding=uit")


@router.post("/organisatie/gebruikers/{user_id}/inschakelen")
def enable(request: Request, user_id: int) -> Response:
    admin = administrator(request)
    try:
        services_of(request).accounts.enable(admin.id, user_id, context_of(request))
    except AccountError as wrong:
        return _users_page(request, admin, wrong.message)
    return redirect("/organisatie/gebruikers?melding=aan")
