"""The TTP as an HTTP service (FastAPI): stage 2 in batches, per-organisation tokens, rate limits.

It accepts only stage-1 pseudonyms: any item that is not 64 hexadecimal digits is refused, and
one that looks like a plain BSN is refused with a message saying so.
"""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated

import uvicorn
from fastapi import FastAPI, Header, Request, Response
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse

from zorgbroker.pseudonymisation.enrolment import SourceKeyCustody
from zorgbroker.pseudonymisation.errors import (
    BatchRejected,
    BatchTooLarge,
    Forbidden,
    NotAuthorised,
    RateLimited,
    TTPError,
)
from zorgbroker.pseudonymisation.method import is_reidentifiable
from zorgbroker.pseudonymisation.ratelimit import Limits, RateLimiter
from zorgbroker.pseudonymisation.ttp import TrustedThirdParty
from zorgbroker.pseudonymisation.ttp_pages import add_source_key_routes
from zorgbroker.pseudonymisation.wire import (
    CONTENT_TYPE,
    KEY_FINGERPRINT_HEADER,
    KEY_VERSION_HEADER,
    decode_batch,
    encode_pseudonyms,
)

#: Longest line a batch may carry: stage-1 hex, a tab and a sealed BSN, with room to spare.
_MAX_LINE_BYTES = 256


def create_app(
    home: Path, *, limits: Limits | None = None, custody: SourceKeyCustody | None = None
) -> FastAPI:
    """The service on the TTP in `home`; `custody` serves the browser's source keys (by
    default on the system clock)."""
    limits = limits or Limits()
    ttp = TrustedThirdParty(home)
    ttp.init()
    limiter = RateLimiter(limits)
    app = FastAPI(title="zorgbroker TTP", docs_url=None, redoc_url=None)

    @app.exception_handler(TTPError)
    async def _ttp_error(_: Request, error: TTPError) -> JSONResponse:
        headers = {}
        if isinstance(error, RateLimited):
            headers["Retry-After"] = "1"
        return JSONResponse({"detail": error.message}, status_code=error.status, headers=headers)

    def organisation(authorization: str | None, claimed: str | None) -> str:
        scheme, _, token = (authorization or "").partition(" ")
        if scheme.lower() != "bearer" or not token:
            raise NotAuthorised("Toegangstoken ontbreekt (Authorization: Bearer ...).")
        org = ttp.authenticate(token.strip())
        if claimed is not None and claimed != org:
            raise Forbidden("Het token hoort bij een andere bronorganisatie.")
        return org

    add_source_key_routes(app, custody or SourceKeyCustody(ttp), organisation)

    @app.get("/v1/health")
    async def health() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/v1/seal-public-key")
    async def seal_public_key() -> dict[str, str]:
        import base64

        return {"x25519": base64.b64encode(ttp.seal_public_key()).decode()}

    @app.get("/v1/registries/{registry}/key")
    async def key_info(
        registry: str,
        authorization: Annotated[str | None, Header()] = None,
        x_zorgbroker_source: Annotated[str | None, Header()] = None,
    ) -> dict[str, str]:
        organisation(authorization, x_zorgbroker_source)
        info = await run_in_threadpool(ttp.key_info, registry)
        return {"registry": info.registry, "version": info.version, "fingerprint": info.fingerprint}

    @app.post("/v1/registries/{registry}/pseudonyms")
    async def pseudonymise(
        registry: str,
        request: Request,
        authorization: Annotated[str | None, Header()] = None,
        x_zorgbroker_source: Annotated[str | None, Header()] = None,
    ) -> Response:
        org = organisation(authorization, x_zorgbroker_source)
        declared = request.headers.get("content-length")
        if declared is not None and int(declared) > limits.max_batch * _MAX_LINE_BYTES:
            raise BatchTooLarge(f"Hoogstens {limits.max_batch} pseudoniemen per verzoek.")
        body = await request.body()
        items = body.count(b"\n") + (0 if body.endswith(b"\n") or not body else 1)
        if items > limits.max_batch:
            raise BatchTooLarge(f"Hoogstens {limits.max_batch} pseudoniemen per verzoek.")
        wait = limiter.check(org, items)
        if wait:
            raise RateLimited("Te veel verzoeken; probeer het zo opnieuw.")
        stage1, sealed = decode_batch(body, with_sealed=is_reidentifiable(registry))
        if stage1.null_count():
            raise BatchRejected("Een regel van het verzoek is leeg.")
        result = await run_in_threadpool(
            ttp.pseudonymise, registry, stage1, source=org, sealed=sealed
        )
        info = ttp.key_info(registry)
        return Response(
            encode_pseudonyms(result),
            media_type=CONTENT_TYPE,
            headers={KEY_VERSION_HEADER: info.version, KEY_FINGERPRINT_HEADER: info.fingerprint},
        )

    @app.post("/v1/registries/{registry}/rekey")
    async def rekey(
        registry: str,
        request: Request,
        from_version: int,
        authorization: Annotated[str | None, Header()] = None,
        x_zorgbroker_source: Annotated[str | None, Header()] = None,
    ) -> Response:
        org = organisation(authorization, x_zorgbroker_source)
        body = await request.body()
        stage1, _ = decode_batch(body, with_sealed=False)
        if len(stage1) > limits.max_batch:
            raise BatchTooLarge(f"Hoogstens {limits.max_batch} pseudoniemen per verzoek.")
        if limiter.check(org, len(stage1)):
            raise RateLimited("Te veel verzoeken; probeer het zo opnieuw.")
        pairs = await run_in_threadpool(
            ttp.rekey, registry, stage1, source=org, from_version=from_version
        )
        lines = pairs.select(line=pairs["old"] + "\t" + pairs["new"])["line"]
        return Response(encode_pseudonyms(lines), media_type=CONTENT_TYPE)

    return app


def serve(home: Path, *, host: str, port: int, limits: Limits | None = None) -> None:
    """Run the service in the foreground until interrupted."""
    # No access log: request lines add nothing the audit log does not already hold.
    uvicorn.run(
        create_app(home, limits=limits), host=host, port=port, log_level="warning", access_log=False
    )


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


@contextlib.contextmanager
def serving(
    home: Path,
    *,
    limits: Limits | None = None,
    host: str = "127.0.0.1",
    custody: SourceKeyCustody | None = None,
) -> Iterator[str]:
    """The real service on a free loopback port in a background thread; yields its base URL.
    For tests and the benchmark."""
    port = free_port(host)
    config = uvicorn.Config(
        create_app(home, limits=limits, custody=custody),
        host=host,
        port=port,
        log_level="warning",
        access_log=False,
        lifespan="off",
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name="ttp-service", daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("De TTP-dienst start niet.")
        time.sleep(0.01)
    try:
        yield f"http://{host}:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=30)
