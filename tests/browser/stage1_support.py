"""Helpers for the browser tests of stage 1's reading and source checks: the portal's static
folder served on loopback, a page on that origin, and the Python side's answers to compare with.
"""

from __future__ import annotations

import base64
import functools
import http.server
import socketserver
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import polars as pl

from zorgbroker.intake.api import DatasetSpec, load_dataset
from zorgbroker.intake.readers import open_upload
from zorgbroker.pseudonymisation.browser_plan import browser_plan

STATIC = Path(__file__).resolve().parents[2] / "src/zorgbroker/portal/static"


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


@contextmanager
def serve_static() -> Iterator[str]:
    handler = functools.partial(_Quiet, directory=str(STATIC))
    with socketserver.ThreadingTCPServer(("127.0.0.1", 0), handler) as server:
        server.daemon_threads = True
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        try:
            yield f"http://127.0.0.1:{server.server_address[1]}"
        finally:
            server.shutdown()


def plan_of(dataset: str) -> dict[str, Any]:
    return browser_plan(load_dataset(dataset))


READ_JS = """
async ([data, name, plan]) => {
  const { readExport } = await import("/stage1/read.js");
  const bytes = Uint8Array.from(atob(data), (c) => c.charCodeAt(0));
  return await readExport(new File([bytes], name), plan);
}
"""


def read_in_browser(page: Any, path: Path, plan: dict[str, Any], name: str | None = None) -> Any:
    data = base64.b64encode(path.read_bytes()).decode()
    return page.evaluate(READ_JS, [data, name or path.name, plan])


def python_tables(path: Path, spec: DatasetSpec) -> dict[str, dict[str, Any]]:
    """What the Python readers make of the export: per table its header and rows of text (an
    empty cell as "", as the browser gives it)."""
    multi = spec.multi_table
    upload = open_upload(path, tables=[t.name for t in spec.tables] if multi else None)
    out: dict[str, dict[str, Any]] = {}
    for key, table in upload.tables.items():
        frames = list(table.batches())
        frame = pl.concat(frames) if frames else pl.DataFrame(schema=table.header)
        rows = [["" if v is None else v for v in row] for row in frame.fill_null("").rows()]
        name = key if multi else spec.main_table.name
        out[name] = {"header": table.header, "rows": rows}
    return out
