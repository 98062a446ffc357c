"""The API's paths: submit, history, status, and the report in three forms."""

from __future__ import annotations

import threading
from functools import partial
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Path, Query, Request, Response
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse
from starlette.background import BackgroundTask

from zorgbroker.accounts.api_tokens import ApiPrincipal
from zorgbroker.intake.api import Report
from zorgbroker.logging import get_logger
from zorgbroker.portal.api.auth import Principal
from zorgbroker.portal.api.downloads import rejected_csv, report_json, report_xlsx
from zorgbroker.portal.api.receiving import FormRefused, private_folder, receive_form, take_in
from zorgbroker.portal.api.schemas import (
    Me,
    Problem,
    UploadAccepted,
    UploadPage,
    UploadStatus,
    status_of,
)
from zorgbroker.pseudonymisation.stage1_guard import Stage1Guard
from zorgbroker.uploads.errors import NoReport, UploadError
from zorgbroker.uploads.models import UploadInfo
from zorgbroker.uploads.service import UploadService, dataset_spec

log = get_logger(__name__)

router = APIRouter()
UploadId = Annotated[int, Path(ge=1, le=2**53, description="Nummer van de aanlevering")]
MODES = ("test", "production")
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
PROBLEMS: dict[int | str, dict[str, Any]] = {
    status: {"model": Problem} for status in (401, 404, 409, 422, 429)
}
UPLOAD_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "required": ["dataset", "mode", "file"],
                    "properties": {
                        "dataset": {"type": "string", "description": "bijv. nhr-pmicd"},
                        "mode": {"type": "string", "enum": list(MODES)},
                        "file": {
                            "type": "string",
                            "format": "binary",
                            "description": "het stap-1-bestand (ZIP) van 'zorgbroker pseudonymise'",
                        },
                    },
                }
            }
        },
    }
}


def _uploads(request: Request) -> UploadService:
    service: UploadService = request.app.state.uploads
    return service


def _base(request: Request) -> str:
    return str(request.scope.get("root_path", "")).rstrip("/")


def _visible(request: Request, who: ApiPrincipal, upload_id: int) -> UploadInfo:
    """The upload if the token may see it; a 404 alike for an unknown one and another
    organisation's, so ids of others cannot be probed."""
    info = _uploads(request).get(upload_id)
    if info is None or not (who.sees_all or info.organisation == who.organisation_agb):
        raise HTTPException(404, f"Aanlevering {upload_id} bestaat niet.")
    return info


def _report(request: Request, who: ApiPrincipal, upload_id: int, action: str) -> Report:
    info = _visible(request, who, upload_id)
    try:
        report = _uploads(request).report(upload_id)
    except NoReport as exc:
        raise HTTPException(409, f"Er is nog geen rapport: {exc.message}.") from None
    _uploads(request).record_access(
        info.id,
        actor=who.user_email,
        on_behalf_of=who.organisation_agb or "beheerder registratie",
        action=action,
        detail=f"api-sleutel {who.token_id}",
    )
    return report


def _download(body: bytes, media_type: str, name: str, disposition: str) -> Response:
    return Response(
        body,
        media_type=media_type,
        headers={"Content-Disposition": f'{disposition}; filename="{name}"'},
    )


@router.post(
    "/uploads",
    status_code=202,
    response_model=UploadAccepted,
    responses={**PROBLEMS, 403: {"model": Problem}, 413: {"model": Problem}},
    openapi_extra=UPLOAD_BODY,
    summary="Lever een stap-1-bestand aan",
)
async def submit(request: Request, who: Principal) -> JSONResponse:
    """Neemt het stap-1-bestand (van `zorgbroker pseudonymise`) aan en verwerkt het op de
    achtergrond; een export die nog BSN's bevat wordt geweigerd (BF-020) en niet bewaard."""
    limit: int = request.app.state.max_upload_bytes
    length = request.headers.get("content-length", "")
    if length.isdigit() and int(length) > limit + 65536:
        allowed = f"{limit:,}".replace(",", ".")
        raise HTTPException(413, f"Het bestand is groter dan de toegestane {allowed} bytes.")
    if who.organisation_agb is None:
        raise HTTPException(403, "Uw organisatie heeft geen AGB-code en kan dus niet aanleveren.")
    uploads = _uploads(request)
    with private_folder(request.app.state.spool_dir) as folder:
        try:
            form = await receive_form(
                request.headers.get("content-type", ""),
                request.stream(),
                folder,
                max_file_bytes=limit,
                make_guard=_guard,
            )
        except FormRefused as refused:
            raise HTTPException(refused.status, refused.detail) from None
        dataset = form.fields.get("dataset", "")
        mode = form.fields.get("mode", "")
        if not dataset:
            raise HTTPException(422, "Het veld 'dataset' ontbreekt (bijvoorbeeld nhr-pmicd).")
        if mode not in MODES:
            raise HTTPException(422, "Het veld 'mode' moet 'test' of 'production' zijn.")
        if form.file_bytes == 0:
            raise HTTPException(422, "Het veld 'file' ontbreekt of het bestand is leeg.")
        try:
            upload_id = await run_in_threadpool(
                partial(
                    take_in,
                    uploads,
                    form,
                    dataset=dataset,
                    organisation=who.organisation_agb,
                    mode=mode,  # type: ignore[arg-type]
                    uploaded_by=who.user_email,
                )
            )
        except UploadError as exc:
            raise HTTPException(422, f"{form.file_name}: {exc.message}") from None
    base = _base(request)
    status_url = f"{base}/uploads/{upload_id}"
    background = None
    if uploads.processes_in_background:
        # Handing it to the queue is quick, and a queue that is down is worth a 503 now.
        from zorgbroker.jobs.config import QueueUnavailable

        try:
            await run_in_threadpool(uploads.dispatch, upload_id)
        except QueueUnavailable as exc:
            raise HTTPException(
                503,
                f"Aanlevering {upload_id} is ontvangen, maar kon niet in de wachtrij: "
                f"{exc.message}",
            ) from None
    else:
        background = BackgroundTask(_process, uploads, upload_id, request.app.state.processing)
    info = await run_in_threadpool(uploads.get, upload_id)
    body = UploadAccepted(id=upload_id, status=info.status if info else "queued",
                          status_url=status_url)  # fmt: skip
    return JSONResponse(
        body.model_dump(), status_code=202, headers={"Location": status_url}, background=background
    )


def _guard(fields: dict[str, str], file_name: str) -> Stage1Guard:
    """The first gate of the file part: the dataset field must come before it."""
    if not fields.get("dataset"):
        raise FormRefused(422, "Het veld 'dataset' ontbreekt (bijvoorbeeld nhr-pmicd).")
    try:
        spec = dataset_spec(fields.get("dataset", ""))
    except UploadError as exc:
        raise FormRefused(422, f"{file_name}: {exc.message}") from None
    return Stage1Guard(spec, file_name)


def _process(uploads: UploadService, upload_id: int, slots: threading.Semaphore) -> None:
    """Processing after the answer was sent (no queue): a failure is recorded on the upload.
    Uploads wait for a slot: fifty at once in one process would compete for the same cores
    and hold fifty files' frames in memory, where one after the other finishes as soon."""
    with slots:
        try:
            uploads.dispatch(upload_id)
        except Exception:
            log.exception("api.process_failed", upload=upload_id)


@router.get("/me", response_model=Me, responses=PROBLEMS, summary="Wie deze sleutel gebruikt")
def me(who: Principal) -> Me:
    """De gebruiker en organisatie (AGB-code) van de API-sleutel."""
    return Me(
        user=who.user_email,
        organisation_agb=who.organisation_agb,
        sees_all_organisations=who.sees_all,
        token=who.token_id,
    )


@router.get("/uploads", response_model=UploadPage, responses=PROBLEMS, summary="Aanleveringen")
def history(
    request: Request,
    who: Principal,
    limit: Annotated[int, Query(ge=1, le=100)] = 50,
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
) -> UploadPage:
    """De aanleveringen van uw organisatie, nieuwste eerst (beheerders van de registratie: alle)."""
    organisation = None if who.sees_all else who.organisation_agb
    if organisation is None and not who.sees_all:
        found: list[UploadInfo] = []
    else:
        found = _uploads(request).list(organisation=organisation, limit=offset + limit + 1)
    page = found[offset : offset + limit]
    base = _base(request)
    more = len(found) > offset + limit
    return UploadPage(
        items=[status_of(info, base) for info in page],
        limit=limit,
        offset=offset,
        next=f"{base}/uploads?limit={limit}&offset={offset + limit}" if more else None,
    )


@router.get(
    "/uploads/{upload_id}", response_model=UploadStatus, responses=PROBLEMS, summary="Status"
)
def status(request: Request, who: Principal, upload_id: UploadId) -> UploadStatus:
    """De status van een aanlevering, met de aantallen zodra ze verwerkt is."""
    return status_of(_visible(request, who, upload_id), _base(request))


@router.get(
    "/uploads/{upload_id}/report",
    responses={**PROBLEMS, 200: {"content": {"application/json": {}}}},
    response_class=Response,
    summary="Kwaliteitsrapport (JSON)",
)
def report(request: Request, who: Principal, upload_id: UploadId) -> Response:
    """Het rapport volgens het contract (shared/contracts/quality-report.md)."""
    body = report_json(_report(request, who, upload_id, "rapport-json"))
    return _download(body, "application/json", f"aanlevering-{upload_id}-rapport.json", "inline")


@router.get(
    "/uploads/{upload_id}/report.xlsx",
    responses={**PROBLEMS, 200: {"content": {XLSX: {}}}},
    response_class=Response,
    summary="Kwaliteitsrapport (Excel)",
)
def report_workbook(request: Request, who: Principal, upload_id: UploadId) -> Response:
    body = report_xlsx(_report(request, who, upload_id, "rapport-xlsx"))
    return _download(body, XLSX, f"aanlevering-{upload_id}-rapport.xlsx", "attachment")


@router.get(
    "/uploads/{upload_id}/rejected.csv",
    responses={**PROBLEMS, 200: {"content": {"text/csv": {}}}},
    response_class=Response,
    summary="Meldingen bij afgewezen records (CSV)",
)
def rejected(request: Request, who: Principal, upload_id: UploadId) -> Response:
    body = rejected_csv(_report(request, who, upload_id, "afgewezen-csv"))
    return _download(
        body, "text/csv; charset=utf-8", f"aanlevering-{upload_id}-afgewezen.csv", "attachment"
    )
