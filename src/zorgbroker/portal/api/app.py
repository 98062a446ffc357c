"""The API application, mounted by the portal at `/api/v1`."""

from __future__ import annotations

import threading
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException

from zorgbroker.accounts.services import AccountServices
from zorgbroker.logging import get_logger
from zorgbroker.portal.api import routes
from zorgbroker.uploads.service import UploadService

log = get_logger(__name__)

PREFIX = "/api/v1"
#: The largest stage-1 file taken (a million records of a wide dataset stay well below).
MAX_UPLOAD_BYTES = 512 * 1024 * 1024
_WHERE = {"query": "parameter", "path": "pad", "header": "kop", "body": "formulier"}


def _field_errors(exc: RequestValidationError) -> str:
    parts = []
    for error in exc.errors():
        location = [str(p) for p in error.get("loc", ())]
        where = _WHERE.get(location[0], location[0]) if location else "verzoek"
        name = ".".join(location[1:]) or "?"
        parts.append(f"ongeldige of ontbrekende waarde voor {where} '{name}'")
    return "; ".join(parts).capitalize() + "."


def create_api(
    services: AccountServices,
    uploads: UploadService,
    *,
    max_upload_bytes: int = MAX_UPLOAD_BYTES,
    spool_dir: Path | None = None,
    processing_slots: int = 1,
) -> FastAPI:
    """`spool_dir`: where an arriving file is written until the upload service took it in
    (a private folder per request; None: the system's temporary folder). Without a queue the
    portal process processes uploads itself, `processing_slots` at a time (the check and the
    import use every core already; on SQLite imports take turns anyway)."""
    api = FastAPI(
        title="zorgbroker API",
        version="1",
        description=(
            "Aanleveren aan de registratie vanuit een eigen systeem: stap-1-bestanden insturen, "
            "de status volgen, de geschiedenis en de rapporten lezen. Authenticatie met een "
            "API-sleutel uit het portaal."
        ),
        docs_url=None,
        redoc_url=None,
        openapi_url="/openapi.json",
    )
    api.state.services = services
    api.state.uploads = uploads
    api.state.max_upload_bytes = max_upload_bytes
    api.state.spool_dir = spool_dir
    api.state.processing = threading.BoundedSemaphore(processing_slots)
    api.include_router(routes.router)

    @api.exception_handler(HTTPException)
    async def _http_error(request: Request, exc: HTTPException) -> JSONResponse:
        detail = exc.detail
        if exc.status_code == 404 and detail == "Not Found":
            detail = "Dit adres bestaat niet in de API."
        elif exc.status_code == 405:
            detail = "Deze methode is hier niet toegestaan."
        return JSONResponse({"detail": detail}, exc.status_code, headers=exc.headers)

    @api.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        return JSONResponse({"detail": _field_errors(exc)}, 422)

    @api.exception_handler(Exception)
    async def _failed(request: Request, exc: Exception) -> JSONResponse:
        # Never the exception's text: it may quote data.
        log.error("api.error", error=type(exc).__name__, path=request.url.path)
        return JSONResponse(
            {"detail": "Er ging iets mis bij de registratie; probeer het later opnieuw."}, 500
        )

    return api
