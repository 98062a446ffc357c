"""Demo mode only: the mail the portal sent, shown in the browser."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response

from zorgbroker.portal.pages import render

router = APIRouter()


@router.get("/demo/mailbox")
def mailbox(request: Request) -> Response:
    mails = list(reversed(request.app.state.mailer.sent))
    return render(request, "mailbox.html", mails=mails)
