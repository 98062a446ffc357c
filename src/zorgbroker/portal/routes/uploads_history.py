"""Aanleveringen: the history of an organisation's uploads, and one upload's live progress.

The progress page polls its fragment every second (htmx) while the upload is not finished; the
finished fragment has no trigger, so polling stops. The page may be closed: processing goes on,
and the uploader gets a mail when it is done.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from fastapi import APIRouter, Request
from fastapi.responses import Response

from zorgbroker.portal.pages import render, signed_in_user
from zorgbroker.portal.routes.uploads_common import sees_all, upload_service, visible_upload
from zorgbroker.uploads.models import FINISHED, STATUS_LABELS, UploadInfo
from zorgbroker.uploads.progress import STAGE_LABELS, rows_per_second

router = APIRouter()

#: Uploads listed at most (newest first); older ones stay reachable by their number.
SHOWN = 500


@dataclass(frozen=True)
class StageRow:
    label: str
    seconds: float | None
    rows: int | None
    per_second: int | None
    current: bool


def _moment(value: dt.datetime | None) -> str:
    return value.astimezone().strftime("%d-%m-%Y %H:%M:%S") if value else ""


def stage_rows(info: UploadInfo, now: dt.datetime) -> list[StageRow]:
    """The stages so far with their seconds, rows and rows per second; the current one with
    the seconds since it began."""
    rows = []
    waited = ((info.started_at or now) - info.submitted_at).total_seconds()
    rows.append(StageRow(STAGE_LABELS["received"], max(0.0, waited), None, None,
                         info.stage is None and info.status not in FINISHED))  # fmt: skip
    for name, figures in (info.stages or {}).items():
        current = name == info.stage and info.status not in FINISHED
        seconds = float(figures.get("seconds") or 0.0)
        if current and info.stage_started_at is not None:
            seconds += max(0.0, (now - info.stage_started_at).total_seconds())
        count = figures.get("rows")
        rows.append(
            StageRow(
                STAGE_LABELS.get(name, name),
                seconds,
                count,
                None if current else rows_per_second(count, seconds),
                current,
            )
        )
    return rows


@router.get("/aanleveringen")
def history(request: Request, organisatie: str = "") -> Response:
    user = signed_in_user(request)
    service = upload_service(request)
    everyone = sees_all(user)
    if everyone:
        uploads = service.list(organisation=organisatie or None, limit=SHOWN)
    elif user.organisation_agb:
        uploads = service.list(organisation=user.organisation_agb, limit=SHOWN)
    else:
        uploads = []
    organisations = service.organisations() if everyone else []
    return render(
        request,
        "uploads/history.html",
        title="Aanleveringen",
        uploads=uploads,
        everyone=everyone,
        organisations=organisations,
        chosen=organisatie,
        status_labels=STATUS_LABELS,
        moment=_moment,
        shown=SHOWN,
    )


def _progress(request: Request, upload_id: int, template: str, oob: bool = False) -> Response:
    _, info = visible_upload(request, upload_id)
    now = dt.datetime.now(dt.UTC)
    return render(
        request,
        template,
        title=f"Aanlevering {info.id}",
        info=info,
        finished=info.status in FINISHED,
        stages=stage_rows(info, now),
        status_labels=STATUS_LABELS,
        moment=_moment,
        oob=oob,
    )


@router.get("/aanleveringen/{upload_id}")
def progress_page(request: Request, upload_id: int) -> Response:
    return _progress(request, upload_id, "uploads/progress.html")


@router.get("/aanleveringen/{upload_id}/voortgang")
def progress_fragment(request: Request, upload_id: int) -> Response:
    return _progress(request, upload_id, "uploads/progress_fragment.html", oob=True)
