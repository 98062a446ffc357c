"""The portal's static files on a small local HTTP server of their own: a page at
http://localhost:<port>/ imports the portal's modules from /static/, as on the portal
(localhost is a secure context, so WebCrypto is there), with the portal's security headers. A
test may answer other paths itself (the portal's side of an upload)."""

from __future__ import annotations

import mimetypes
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from zorgbroker.portal.app import STATIC
from zorgbroker.portal.security import SECURITY_HEADERS

#: Stand-ins for modules other engineers write, served only while the package has none.
STUB = Path(__file__).parent / "stage1_stub"
_STUBBED = {"/static/stage1/keywrap.js"}
_PAGE = b"<!doctype html><html lang='nl'><head><title>stap 1</title></head><body></body></html>"


@dataclass
class Answer:
    status: int = 200
    body: bytes = b""
    content_type: str = "text/html; charset=utf-8"
    headers: dict[str, str] = field(default_factory=dict)


#: (method, path, request headers, request body) -> an answer, or None for the static files.
Other = Callable[[str, str, dict[str, str], bytes], Answer | None]


def _static(path: str) -> Answer:
    if path == "/":
        return Answer(body=_PAGE)
    file = (STATIC / path.removeprefix("/static/")).resolve()
    if path in _STUBBED and not file.exists():
        return Answer(body=(STUB / file.name).read_bytes(), content_type="text/javascript")
    if not path.startswith("/static/") or STATIC not in file.parents or not file.is_file():
        return Answer(status=404)
    kind = "text/javascript" if file.suffix == ".js" else mimetypes.guess_type(file.name)[0]
    return Answer(body=file.read_bytes(), content_type=kind or "application/octet-stream")


def _handler(other: Other | None) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def _answer(self, method: str) -> None:
            length = int(self.headers.get("content-length") or 0)
            body = self.rfile.read(length) if length else b""
            path = self.path.split("?")[0]
            headers = {k.lower(): v for k, v in self.headers.items()}
            answer = other(method, path, headers, body) if other else None
            answer = answer or _static(path)
            self.send_response(answer.status)
            self.send_header("Content-Type", answer.content_type)
            self.send_header("Content-Length", str(len(answer.body)))
            # The portal's headers, its Content-Security-Policy among them: the modules, the
            # worker and WebCrypto must work under it as on the portal.
            for name, value in {**SECURITY_HEADERS, **answer.headers}.items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(answer.body)

        def do_GET(self) -> None:
            self._answer("GET")

        def do_POST(self) -> None:
            self._answer("POST")

        def log_message(self, format: str, *args: Any) -> None:
            pass

    return Handler


def static_page(browser: Any, other: Other | None = None) -> Iterator[Any]:
    """A page at the server's / (its `origin` attribute says where), served until the end."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(other))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    origin = f"http://localhost:{server.server_address[1]}"
    context = browser.new_context(base_url=origin)
    page = context.new_page()
    page.goto(f"{origin}/")
    try:
        yield page
    finally:
        context.close()
        server.shutdown()
        server.server_close()
