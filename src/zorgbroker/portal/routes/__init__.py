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
    patient_access,
    sign_in,
    source_key,
    stage1_plan,
    uploads,
    uploads_history,
    uploads_report,
    wizard,
)


def routers(*, demo: bool) -> list[APIRouter]:
    found = [sign_in.router, invitation.router, wizard.router, account.router,
             organisation.router, passkeys.router, email_address.router,
             factors.router, stage1_plan.router,
             source_key.router, patient_access.router,
             uploads.router, uploads_history.router, uploads_report.router,
             api_tokens.router]  # fmt: skip
    if demo:
        found.append(demo_router())
    return found


def demo_router() -> APIRouter:
    return demo.router
