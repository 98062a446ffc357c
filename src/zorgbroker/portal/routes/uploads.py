"""Aanleveren: the start page, the empty templates ("Gebruik"), and taking a stage-1 file in.

The browser reads the export and pseudonymises it (stage 1, `static/stage1/upload.js`); what
reaches `POST /aanleveren` is the stage-1 ZIP it made (`bestand`). The body is parsed as it
arrives (as `/api/v1/uploads` does; not Starlette's form, which spools a file to disk first):
the token, dataset and mode come first, then a `Stage1Guard` looks at the file's first KB, and
only a file that can be a stage-1 file is written to a private temporary folder, handed to the
upload service (which checks it fully) and removed whatever happens. A raw export sent here is
refused from its first KB (BF-020) and nothing of it is ever written. Processing runs after
the answer (a background task, or the configured queue); the browser goes to the progress page.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Awaitable, Callable
from functools import partial
from pathlib import Path

from fastapi import APIRouter, BackgroundTasks, HTTPException, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from zorgbroker.accounts.services import UserView
from zorgbroker.intake.api import Mode
from zorgbroker.portal.api.receiving import FormRefused, GuardMaker, receive_form, take_in
from zorgbroker.portal.pages import redirect, render, signed_in_user
from zorgbroker.portal.routes.uploads_common import may_upload, upload_service
from zorgbroker.portal.security import CSRF_REFUSED, form_token_valid
from zorgbroker.pseudonymisation.stage1_guard import Stage1Guard

router = APIRouter()

#: Largest request accepted at POST /aanleveren: the readers' largest file (8 GiB, BF-006
#: above it) and room for the form around it. `app.state.max_upload_bytes` overrides it.
MAX_UPLOAD_BYTES = 8 * 1024**3 + 1024**2
UPLOAD_PATH = "/aanleveren"
MODES = {"production": "Versleutelen met TTP", "test": "Anonimiseren voor testaanlevering"}


def max_upload_bytes(request: Request) -> int:
    return int(getattr(request.app.state, "max_upload_bytes", MAX_UPLOAD_BYTES))


async def upload_size_limit(
    request: Request, call_next: Callable[[Request], Awaitable[Response]]
) -> Response:
    """Refuse an upload that is too large, or whose size is not said, before its body is
    read (the CSRF check parses the form, and would spool all of it to disk first)."""
    if request.method == "POST" and request.url.path == UPLOAD_PATH:
        length = request.headers.get("content-length")
        if length is None or not length.isdigit():
            return Response("De grootte van het bestand ontbreekt.", status_code=411)
        if int(length) > max_upload_bytes(request):
            return Response("Het bestand is te groot om aan te leveren.", status_code=413)
    return await call_next(request)


def _datasets() -> list[tuple[str, str, bool]]:
    from zorgbroker.intake.api import available, load_dataset

    return [
        (entry.name, entry.title, load_dataset(entry.name).multi_table) for entry in available()
    ]


def _uploader(request: Request) -> UserView:
    user = signed_in_user(request)
    if not may_upload(user):
        raise HTTPException(
            403,
            "U mag niet aanleveren: daarvoor is de rol aanleveraar nodig, bij een organisatie "
            "met een AGB-code.",
        )
    return user


def _start_page(request: Request, error: str | None = None, status_code: int = 200) -> Response:
    return render(
        request,
        "uploads/start.html",
        status_code=status_code,
        title="Aanleveren",
        datasets=_datasets(),
        modes=MODES,
        error=error,
    )


@router.get(UPLOAD_PATH)
def start_page(request: Request) -> Response:
    _uploader(request)
    upload_service(request)
    return _start_page(request)


@router.get("/aanleveren/sjabloon/{dataset}.{suffix}")
def template(request: Request, dataset: str, suffix: str) -> Response:
    """An empty template of the dataset's tables: its header, as the check reads it."""
    from zorgbroker.intake.api import SpecError, load_dataset
    from zorgbroker.uploads.header_templates import FORMATS, template_bytes, template_suffix

    signed_in_user(request)
    known = {name for name, _, _ in _datasets()}
    if dataset not in known:
        raise HTTPException(404)
    try:
        spec = load_dataset(dataset)
    except (SpecError, KeyError):
        raise HTTPException(404) from None
    chosen = template_suffix(spec, suffix)
    if chosen is None or chosen != suffix:
        raise HTTPException(404)
    return Response(
        template_bytes(spec, chosen),
        media_type=FORMATS[chosen],
        headers={"Content-Disposition": f'attachment; filename="sjabloon-{dataset}.{chosen}"'},
    )


def _token(request: Request, fields: dict[str, str]) -> str | None:
    """The CSRF token as htmx sends it (a header) or as the form does (a field)."""
    return request.headers.get("x-csrf-token") or fields.get("csrf_token")


def _guard_maker(request: Request) -> GuardMaker:
    """The first gate of the file part, made from the fields before it (the browser sends
    csrf_token, dataset and mode first): a wrong token, dataset or mode is refused before any
    byte of the file is taken, and so is a file that cannot be a stage-1 file."""
    from zorgbroker.intake.api import load_dataset

    def make(fields: dict[str, str], file_name: str) -> Stage1Guard:
        if not form_token_valid(request, _token(request, fields)):
            raise FormRefused(403, CSRF_REFUSED)
        dataset = fields.get("dataset", "")
        if fields.get("mode") not in MODES or dataset not in {n for n, _, _ in _datasets()}:
            raise FormRefused(400, "Kies een dataset en een van de twee knoppen.")
        return Stage1Guard(load_dataset(dataset), file_name)

    return make


@router.post(UPLOAD_PATH)
async def receive(request: Request, background: BackgroundTasks) -> Response:
    from zorgbroker.uploads.errors import UploadError

    user = _uploader(request)
    service = upload_service(request)
    folder = Path(tempfile.mkdtemp(prefix="zorgbroker-portaal-"))
    try:
        try:
            form = await receive_form(
                request.headers.get("content-type", ""),
                request.stream(),
                folder,
                max_file_bytes=max_upload_bytes(request),
                make_guard=_guard_maker(request),
                file_field="bestand",
            )
        except FormRefused as refused:
            if refused.status == 403:
                raise HTTPException(403, refused.detail) from None
            if refused.status == 413:
                return _start_page(request, "Het bestand is te groot om aan te leveren.", 413)
            return _start_page(request, refused.detail, refused.status)
        if not form_token_valid(request, _token(request, form.fields)):
            raise HTTPException(403, CSRF_REFUSED)
        dataset, mode = form.fields.get("dataset", ""), form.fields.get("mode", "")
        if mode not in MODES or dataset not in {name for name, _, _ in _datasets()}:
            return _start_page(request, "Kies een dataset en een van de twee knoppen.", 400)
        if form.file_bytes == 0:
            return _start_page(request, "Het bestand is leeg; kies een bestand.", 400)
        assert user.organisation_agb is not None  # may_upload checked it
        chosen: Mode = "production" if mode == "production" else "test"
        try:
            upload_id = await run_in_threadpool(
                partial(
                    take_in,
                    service,
                    form,
                    dataset=dataset,
                    organisation=user.organisation_agb,
                    mode=chosen,
                    uploaded_by=user.email,
                )
            )
        except UploadError as wrong:
            return _start_page(request, wrong.message, 400)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    # After the answer: the browser shows the progress page at once, and may close it.
    background.add_task(service.dispatch, upload_id)
    return redirect(f"/aanleveringen/{upload_id}")
