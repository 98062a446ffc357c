"""The portal's application factory: handed the accounts services, it builds the FastAPI app."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from fastapi import Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException

from zorgbroker.accounts.services import AccountServices
from zorgbroker.portal import routes
from zorgbroker.portal.pages import RedirectTo, redirect, render
from zorgbroker.portal.routes.uploads import UPLOAD_PATH, upload_size_limit
from zorgbroker.portal.security import csrf_guard, headers_middleware, session_middleware
from zorgbroker.pseudonymisation.client import WrappedKeySource

if TYPE_CHECKING:
    from zorgbroker.uploads.service import UploadService

STATIC = Path(__file__).resolve().parent / "static"


class ShownMail(Protocol):
    @property
    def to(self) -> str: ...
    @property
    def subject(self) -> str: ...
    @property
    def body(self) -> str: ...


class DemoMailbox(Protocol):
    """What the demo's mailbox page reads: the mail sent, oldest first (an in-memory mailer in
    tests, the local mailbox folder in `zorgbroker demo`)."""

    @property
    def sent(self) -> Sequence[ShownMail]: ...


def create_app(
    services: AccountServices,
    *,
    origin: str,
    demo_mailbox: DemoMailbox | None = None,
    uploads: UploadService | None = None,
    source_keys: WrappedKeySource | None = None,
) -> FastAPI:
    """`origin` is the portal's own address (``https://portaal.example.nl``): requests that
    change something must come from it. `demo_mailbox` shows the mail sent (demo mode only).
    `uploads` is the upload service the upload pages and the API call (None: a portal of
    accounts only, as some tests build it). `source_keys` is the TTP that holds the uploaders'
    wrapped source keys (the portal relays them). With `uploads`, the API for machines is
    mounted at `/api/v1`."""
    app = FastAPI(
        title="zorgbroker portaal",
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
        dependencies=[Depends(csrf_guard)],
    )
    app.state.services = services
    app.state.origin = origin.rstrip("/")
    app.state.mailer = demo_mailbox
    app.state.uploads = uploads
    # Read as a stream by its route (a refused file is never written): see `csrf_guard`.
    app.state.streamed_forms = frozenset({UPLOAD_PATH})
    app.state.source_keys = source_keys
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    if uploads is not None:
        from zorgbroker.portal.api.app import PREFIX, create_api

        # A sub-application: its own OpenAPI document, and no CSRF check (bearer tokens).
        app.mount(PREFIX, create_api(services, uploads))
    for router in routes.routers(demo=demo_mailbox is not None):
        app.include_router(router)
    # The last one added runs first: headers go on every response, errors included.
    app.middleware("http")(session_middleware)
    # Before the session and the CSRF check: a too large upload is refused unread.
    app.middleware("http")(upload_size_limit)
    app.middleware("http")(headers_middleware)

    @app.exception_handler(RedirectTo)
    async def _redirect(request: Request, exc: RedirectTo) -> Response:
        return redirect(exc.url)

    @app.exception_handler(HTTPException)
    async def _http_error(request: Request, exc: HTTPException) -> Response:
        if request.url.path.startswith("/static/"):
            # No page (and so no session) for a missing script or style sheet: rendering one
            # would start an anonymous session whose cookie replaces the user's own.
            return Response("Niet gevonden", status_code=exc.status_code, media_type="text/plain")
        titles = {403: "Geweigerd", 404: "Niet gevonden", 405: "Niet toegestaan"}
        return render(
            request, "fout.html", status_code=exc.status_code,
            title=titles.get(exc.status_code, "Fout"),
            message=exc.detail if exc.status_code == 403 else "Deze pagina bestaat niet.",
        )  # fmt: skip

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> HTMLResponse:
        return render(
            request, "fout.html", status_code=400, title="Onvolledig formulier",
            message="Het formulier is niet volledig ingevuld. Ga terug en probeer het opnieuw.",
        )  # fmt: skip

    return app
