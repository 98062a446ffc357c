"""The portal's pages, one module per part of the story."""

from __future__ import annotations

from fastapi import APIRouter

from zorgbroker.portal.routes import (
    account,
    api_tokens,
    demo,
    email_address,
    factors,
    invitation,
    organisation,
    passkeys,
    sign_in,
    wizard,
)


def routers(*, demo: bool) -> list[APIRouter]:
    found = [sign_in.router, invitation.router, wizard.router, account.router,
             organisation.router, passkeys.router, email_address.router,
             factors.router, api_tokens.router]  # fmt: skip
    if demo:
        found.append(demo_router())
    return found


def demo_router() -> APIRouter:
    return demo.router
