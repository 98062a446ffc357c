"""What the upload pages share: the upload service, who may upload, and which uploads a user
may see at all.

Isolation: a user sees the uploads of their own organisation (its AGB code) and nothing else;
an upload of another organisation is "Niet gevonden" (404), exactly as one that does not exist,
so its number reveals nothing. Registry administrators see every organisation's uploads.
"""

from __future__ import annotations

from fastapi import HTTPException, Request

from zorgbroker.accounts.models import REGISTRY_ADMIN, UPLOADER
from zorgbroker.accounts.services import UserView
from zorgbroker.portal.pages import signed_in_user
from zorgbroker.uploads.models import UploadInfo
from zorgbroker.uploads.service import UploadService


def upload_service(request: Request) -> UploadService:
    """The portal's upload service; 404 for a portal built without one (accounts only)."""
    service: UploadService | None = request.app.state.uploads
    if service is None:
        raise HTTPException(404)
    return service


def sees_all(user: UserView) -> bool:
    return REGISTRY_ADMIN in user.roles


def may_upload(user: UserView) -> bool:
    return UPLOADER in user.roles and bool(user.organisation_agb)


def visible_upload(request: Request, upload_id: int) -> tuple[UserView, UploadInfo]:
    """The signed-in user and the upload, when they may see it; else 404 (never 403)."""
    user = signed_in_user(request)
    info = upload_service(request).get(upload_id)
    if info is None:
        raise HTTPException(404)
    if not sees_all(user) and info.organisation != user.organisation_agb:
        raise HTTPException(404)
    return user, info


def on_behalf_of(user: UserView) -> str:
    """Whom a user acts for in the access log: their organisation's AGB code (as the API
    writes it), or the registry's administration."""
    return user.organisation_agb or "beheerder registratie"
