"""HTTP: the FHIR searches behind a bearer token, `/metadata`, and an app factory."""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, FastAPI, Request, Response
from fastapi.responses import JSONResponse
from sqlalchemy import Engine
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from zorgbroker.fhir import access_log, search
from zorgbroker.fhir.auth import Grant, TokenVerifier
from zorgbroker.fhir.capability import capability_statement
from zorgbroker.fhir.formats import MEDIA_TYPES, Format, negotiate, operation_outcome, render
from zorgbroker.fhir.oauth.dataservices import resource_types
from zorgbroker.fhir.oauth.server import AuthorizationService
from zorgbroker.fhir.params import searchable_types
from zorgbroker.fhir.resources import without_bsn
from zorgbroker.fhir.store import Stored, read_one, utcnow
from zorgbroker.registry.database import is_sqlite

log = logging.getLogger(__name__)


class FhirService:
    """What a route needs: the database, who a token belongs to, and the time."""

    def __init__(
        self,
        engine: Engine,
        verifier: TokenVerifier,
        *,
        clock: Callable[[], dt.datetime] = utcnow,
        base_url: str | None = None,
        oauth: AuthorizationService | None = None,
    ) -> None:
        """`oauth`, when given, adds the authorisation server's token endpoint."""
        self.engine = engine
        self.verifier = verifier
        self.oauth = oauth
        self.clock = clock
        self.base_url = base_url.rstrip("/") if base_url else None
        self.access_log = access_log.AccessLogWriter(engine)
        # SQLite checkpoints and removes its WAL whenever the last connection closes, which the
        # engine's one-connection-per-checkout pool does after every request: holding one
        # connection open for the server's life keeps that disk work off each request.
        self._keeper: Any = engine.raw_connection() if is_sqlite(engine) else None

    def close(self) -> None:
        if self._keeper is not None:
            self._keeper.close()
            self._keeper = None


def _respond(
    body: dict[str, Any], fmt: Format, status: int = 200, headers: dict[str, str] | None = None
) -> Response:
    return Response(render(body, fmt), status, headers=headers, media_type=MEDIA_TYPES[fmt])


def _error(
    message: str, fmt: Format, status: int, code: str, headers: dict[str, str] | None = None
) -> Response:
    return _respond(operation_outcome(message, code), fmt, status, headers)


def _grant(service: FhirService, request: Request) -> Grant | None:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return service.verifier.verify(token.strip())


def _base(service: FhirService, request: Request) -> str:
    return service.base_url or str(request.base_url).rstrip("/")


def _entry(base: str, item: Stored, mode: str) -> dict[str, Any]:
    return {
        "fullUrl": f"{base}/{item.resource_type}/{item.resource_id}",
        "resource": without_bsn(item.resource()),
        "search": {"mode": mode},
    }


def _bundle(base: str, self_url: str, next_url: str | None, page: search.Page) -> dict[str, Any]:
    links = [{"relation": "self", "url": self_url}]
    if next_url:
        links.append({"relation": "next", "url": next_url})
    return {
        "resourceType": "Bundle",
        "type": "searchset",
        "total": page.total,
        "link": links,
        "entry": [_entry(base, m, "match") for m in page.matches]
        + [_entry(base, i, "include") for i in page.included],
    }


def _next_url(url: str, items: list[tuple[str, str]], page: int) -> str:
    kept = [(k, v) for k, v in items if k != "_page"] + [("_page", str(page + 1))]
    return f"{url.split('?', 1)[0]}?{urlencode(kept)}"


def router(service: FhirService) -> APIRouter:
    api = APIRouter()

    @api.get("/metadata")
    def metadata(request: Request) -> Response:
        fmt = negotiate(request.query_params.get("_format"), request.headers.get("accept"))
        return _respond(capability_statement(service.clock().date()), fmt)

    def do_search(request: Request, resource_type: str, lastn: bool) -> Response:
        fmt = negotiate(request.query_params.get("_format"), request.headers.get("accept"))
        grant = _grant(service, request)
        if grant is None:
            return _unauthorised(fmt)
        allowed = resource_types(grant.scope)
        if resource_type not in allowed and resource_type in searchable_types():
            return _out_of_scope(resource_type, fmt)
        items = list(request.query_params.multi_items())
        try:
            query = search.parse_query(resource_type, items, lastn=lastn)
            with service.engine.connect() as conn:
                page = search.run(conn, query, grant.patient_id)
        except search.SearchError as exc:
            return _error(exc.message, fmt, exc.status, exc.code)
        base = _base(service, request)
        # The request's own query, as sent: the self link echoes every parameter (MedMij).
        query_text = f"?{request.url.query}" if request.url.query else ""
        self_url = f"{base}{request.url.path}{query_text}"
        next_url = _next_url(self_url, items, query.page) if page.has_next else None
        # Supporting resources of another data service are not included (the token's scope).
        page.included = [i for i in page.included if i.resource_type in allowed]
        served = page.matches + page.included
        service.access_log.write(
            access_log.entries(grant, served, _context(request), service.clock())
        )
        return _respond(_bundle(base, self_url, next_url, page), fmt)

    @api.get("/Observation/$lastn")
    def lastn(request: Request) -> Response:
        return do_search(request, "Observation", lastn=True)

    @api.get("/{resource_type}")
    def search_type(request: Request, resource_type: str) -> Response:
        return do_search(request, resource_type, lastn=False)

    @api.get("/{resource_type}/{resource_id}")
    def read(request: Request, resource_type: str, resource_id: str) -> Response:
        """One resource of the token's patient (or a shared one, such as an Organization), of a
        type the token's data service serves; anything else is not found, so a token cannot
        learn what another patient's record holds."""
        fmt = negotiate(request.query_params.get("_format"), request.headers.get("accept"))
        grant = _grant(service, request)
        if grant is None:
            return _unauthorised(fmt)
        if resource_type not in resource_types(grant.scope):
            return _out_of_scope(resource_type, fmt)
        with service.engine.connect() as conn:
            found = read_one(conn, resource_type, resource_id, grant.patient_id)
        if found is None:
            return _error(
                f"{resource_type[:64]}/{resource_id[:64]} is niet gevonden", fmt, 404, "not-found"
            )
        service.access_log.write(
            access_log.entries(grant, [found], _context(request), service.clock())
        )
        return _respond(without_bsn(found.resource()), fmt)

    if service.oauth is not None:
        oauth = service.oauth

        @api.post("/oauth/token")
        async def token(request: Request) -> Response:
            """MedMij's token endpoint: a code, once, for a bearer token (JSON)."""
            form = await request.form()
            items = [(k, v) for k, v in form.multi_items() if isinstance(v, str)]
            # The database work is synchronous: off the event loop, as the sync routes are.
            answer = await run_in_threadpool(oauth.token, items, request.headers)
            return JSONResponse(answer.body, answer.status, headers=dict(answer.headers))

    return api


def _unauthorised(fmt: Format) -> Response:
    return _error(
        "geen geldig toegangstoken",
        fmt,
        401,
        "login",
        {"WWW-Authenticate": 'Bearer error="invalid_token"'},
    )


def _out_of_scope(resource_type: str, fmt: Format) -> Response:
    return _error(
        f"het toegangstoken geeft geen toegang tot {resource_type[:64]}: de toestemming geldt "
        "een andere gegevensdienst",
        fmt,
        403,
        "forbidden",
        {"WWW-Authenticate": 'Bearer error="insufficient_scope"'},
    )


def _context(request: Request) -> access_log.RequestContext:
    return access_log.RequestContext(
        query=f"{request.url.path}?{request.url.query}",
        request_id=request.headers.get("medmij-request-id"),
        correlation_id=request.headers.get("x-correlation-id"),
    )


#: MedMij's request headers, echoed on every response (at most 64 characters each).
TRACE_HEADERS = ("MedMij-Request-ID", "X-Correlation-ID")


class EchoTraceHeaders:
    """Echoes MedMij's trace headers on the response. Plain ASGI rather than
    `app.middleware("http")`: Starlette's BaseHTTPMiddleware runs every request through an extra
    task and a stream, which cost a tenth of the server's CPU per search (docs/benchmarks.md)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        wanted = {name.lower().encode(): name for name in TRACE_HEADERS}
        echoed: dict[str, str] = {}
        for key, value in scope["headers"]:
            name = wanted.get(key.lower())
            if name is not None and name not in echoed:  # the first, as Request.headers gives
                echoed[name] = value.decode("latin-1")
        echoed = {name: value for name, value in echoed.items() if value}
        if not echoed:
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in echoed.items():
                    headers[name] = value[:64]
            await send(message)

        await self.app(scope, receive, send_with_headers)


#: How often the server removes expired tokens and codes.
PURGE_EVERY_SECONDS = 15 * 60


def create_app(service: FhirService, *, purge_every: float = PURGE_EVERY_SECONDS) -> FastAPI:
    """With an authorisation server, expired tokens and codes are removed at start-up and then
    every `purge_every` seconds (several processes doing so is harmless)."""

    async def purging(oauth: AuthorizationService) -> None:
        while True:
            try:
                await asyncio.to_thread(oauth.purge_expired)
            except Exception:  # a database that is down now is retried at the next round
                log.warning("purging expired tokens failed", exc_info=True)
            await asyncio.sleep(purge_every)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        task = asyncio.create_task(purging(service.oauth)) if service.oauth else None
        try:
            yield
        finally:
            if task is not None:
                task.cancel()
            service.close()

    app = FastAPI(
        title="zorgbroker FHIR", docs_url=None, redoc_url=None, openapi_url=None, lifespan=lifespan
    )
    app.include_router(router(service))
    app.add_middleware(EchoTraceHeaders)
    return app
