"""The portal's static files in a page of their own, without a server: Playwright answers every
request to http://localhost/static/ from the package folder. localhost is a secure context, so
WebCrypto is there, as on the portal."""

from __future__ import annotations

import mimetypes
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from zorgbroker.portal.app import STATIC

ORIGIN = "http://localhost"
#: Stand-ins for the reading modules while their engineer writes them (never when they exist).
STUB = Path(__file__).parent / "stage1_stub"
_STUBBED = {"/static/stage1/read.js", "/static/stage1/checks.js"}
_PAGE = b"<!doctype html><html lang='nl'><head><title>stap 1</title></head><body></body></html>"


def _serve(route: Any) -> None:
    path = route.request.url.removeprefix(ORIGIN).split("?")[0]
    if path == "/":
        route.fulfill(status=200, body=_PAGE, content_type="text/html")
        return
    file = (STATIC / path.removeprefix("/static/")).resolve()
    if path in _STUBBED and not file.exists():
        file = STUB / file.name
        route.fulfill(status=200, body=file.read_bytes(), content_type="text/javascript")
        return
    if not path.startswith("/static/") or STATIC not in file.parents or not file.is_file():
        route.fulfill(status=404, body=b"")
        return
    kind = "text/javascript" if file.suffix == ".js" else mimetypes.guess_type(file.name)[0]
    kind = kind or "application/octet-stream"
    route.fulfill(status=200, body=file.read_bytes(), content_type=kind)


def static_page(browser: Any) -> Iterator[Any]:
    """A page at http://localhost/ that can import the portal's modules from /static/."""
    context = browser.new_context()
    context.route(f"{ORIGIN}/**", _serve)
    page = context.new_page()
    page.goto(f"{ORIGIN}/")
    try:
        yield page
    finally:
        context.close()


def static_file(path: str) -> Path:
    return STATIC / path
