"""Uploads through the API (`/api/v1`) on the embedded default (SQLite under ZORGBROKER_HOME,
the embedded TTP, uploads processed in the portal's process), beside `zorgbroker submit`'s
in-process path on the same installation.

    uv run python bench/bench_api_upload.py [--rows 100000] [--repeat 3]
                                            [--concurrent 50] [--concurrent-rows 10000]

1. Upload to report: a production stage-1 file of `--rows` records POSTed to the API, its status
   polled, its report fetched; `--repeat` runs, median and best. Beside it the same through the
   upload service in this process (what `zorgbroker submit` does after making the stage-1 file).
   Each run sends a file of its own (another seed), so every run imports new records into a
   registry that grows by `--rows` each time.
2. `--concurrent` uploads of `--concurrent-rows` records each, sent at once from as many
   threads; wall time until every report is there, rows/s, and whether every upload was stored
   exactly once (one upload each, all done, the registry holding exactly the records they say
   they stored).

The portal runs in a child process (uvicorn, one worker), so the client's work (making stage-1
files, HTTP) does not share its interpreter; its peak memory is read from /proc at the end.
Stage-1 files are made before the clock starts: their cost is the source's, measured by
bench_pseudonymisation.py.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx

ORGANISATION = "01234567"
FINISHED = ("done", "failed", "stopped")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _serve(port: int, slots: int | None) -> None:
    """The child: the portal with its API, as `zorgbroker demo` builds it (`slots`: another
    number of uploads processed at once than the API's default, to compare)."""
    import threading

    import uvicorn
    from starlette.routing import Mount

    from zorgbroker.composition import account_services, portal_app
    from zorgbroker.portal.api.app import PREFIX
    from zorgbroker.settings import get_settings

    url = f"http://127.0.0.1:{port}"
    settings = get_settings()
    app = portal_app(settings, account_services(settings, url), origin=url)
    if slots is not None:
        api = next(r for r in app.routes if isinstance(r, Mount) and r.path == PREFIX)
        api.app.state.processing = threading.BoundedSemaphore(slots)  # type: ignore[attr-defined]
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning")


def _tokens(url: str, count: int) -> list[str]:
    """An organisation with its AGB code, an uploader and `count` API tokens (one per client:
    the API allows each token 600 requests a minute, and fifty clients polling share none)."""
    from zorgbroker.accounts.interfaces import RequestContext
    from zorgbroker.accounts.models import UPLOADER
    from zorgbroker.composition import account_services
    from zorgbroker.settings import get_settings

    services = account_services(get_settings(fresh=True), url)
    organisation = services.accounts.create_organisation("Ziekenhuis Bench", agb=ORGANISATION)
    services.accounts.invite(
        None, organisation, "bench@example.nl", "Bench", (UPLOADER,), RequestContext()
    )
    user = services.accounts.find_user("bench@example.nl")
    assert user is not None
    return [
        services.api_tokens.create(user, f"bench {i}", RequestContext()).secret
        for i in range(count)
    ]


def _stage1(home: Path, folder: Path, rows: int, seed: int) -> Path:
    from zorgbroker.intake.api import generate
    from zorgbroker.pseudonymisation.source_side import make_stage1

    today = dt.date.today()
    export = folder / f"export-{seed}.csv"
    generate("nhr-pmicd", rows=rows, out=export, seed=seed, organisation=ORGANISATION,
             today=today)  # fmt: skip
    target = folder / f"stap1-{seed}.zip"
    make_stage1(export, "nhr-pmicd", target, mode="production", home=home,
                organisation=ORGANISATION, today=today, display_name=export.name)  # fmt: skip
    export.unlink()
    return target


def _through_api(
    client: httpx.Client, stage1: Path, poll: float = 0.02
) -> tuple[float, dict[str, object]]:
    """Seconds from the POST to the report in hand, and the final status."""
    started = time.perf_counter()
    with stage1.open("rb") as handle:
        answer = client.post(
            "/uploads",
            data={"dataset": "nhr-pmicd", "mode": "production"},
            files={"file": (stage1.name, handle, "application/zip")},
        )
    answer.raise_for_status()
    upload_id = answer.json()["id"]
    while True:
        polled = client.get(f"/uploads/{upload_id}")
        polled.raise_for_status()
        status: dict[str, object] = polled.json()
        if status["status"] in FINISHED:
            break
        time.sleep(poll)
    client.get(f"/uploads/{upload_id}/report").raise_for_status()
    return time.perf_counter() - started, status


def _in_process(stage1: Path) -> float:
    from zorgbroker.composition import upload_service
    from zorgbroker.settings import get_settings

    settings = get_settings(fresh=True)
    uploads = upload_service(settings)
    started = time.perf_counter()
    upload_id = uploads.submit(stage1, dataset="nhr-pmicd", organisation=ORGANISATION,
                               mode="production", uploaded_by="bench")  # fmt: skip
    uploads.report(upload_id)
    return time.perf_counter() - started


def _held_records() -> int:
    from sqlalchemy import func, select, table

    from zorgbroker.composition import open_registry
    from zorgbroker.registry.layout import layout_for
    from zorgbroker.settings import get_settings

    engine = open_registry(get_settings(fresh=True))
    with engine.connect() as conn:
        name = layout_for("nhr-pmicd").main.sql_name
        return int(conn.execute(select(func.count()).select_from(table(name))).scalar_one())


def _timings(upload_ids: list[int]) -> list[dict[str, float]]:
    """The service's own timings of each upload (check, import parts), as it recorded them."""
    from sqlalchemy import select

    from zorgbroker.composition import open_registry
    from zorgbroker.registry.models import Upload
    from zorgbroker.settings import get_settings

    engine = open_registry(get_settings(fresh=True))
    with engine.connect() as conn:
        rows = conn.execute(
            select(Upload.id, Upload.timings).where(Upload.id.in_(upload_ids)).order_by(Upload.id)
        ).all()
    return [dict(timings or {}) for _, timings in rows]


def _peak_rss_mib(pid: int) -> float | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None


def _print_large(
    rows: int, api_runs: list[float], api_ids: list[int], local_runs: list[float]
) -> None:
    print(f"upload to report, {rows:,} rows, production ({len(api_runs)} runs):")
    print(f"  through the API: median {statistics.median(api_runs):.2f} s, "
          f"best {min(api_runs):.2f} s, "
          f"{rows / statistics.median(api_runs):,.0f} rows/s")  # fmt: skip
    for upload_id, timings in zip(api_ids, _timings(api_ids), strict=True):
        parts = ", ".join(f"{k} {v:.2f}" for k, v in timings.items())
        print(f"  upload {upload_id}, the service's own seconds: {parts}")
    print(f"  in process (zorgbroker submit's path): median "
          f"{statistics.median(local_runs):.2f} s, best {min(local_runs):.2f} s")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--concurrent", type=int, default=50)
    parser.add_argument("--concurrent-rows", type=int, default=10_000)
    parser.add_argument(
        "--slots", type=int, help="uploads the portal processes at once (default: the API's)"
    )
    parser.add_argument("--serve", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        _serve(args.serve, args.slots)
        return

    with tempfile.TemporaryDirectory(prefix="zorgbroker-bench-api-") as folder:
        home = Path(folder) / "home"
        files = Path(folder) / "files"
        files.mkdir()
        os.environ["ZORGBROKER_HOME"] = str(home)
        for name in ("ZORGBROKER_DATABASE_URL", "ZORGBROKER_TTP_URL", "ZORGBROKER_JOBS"):
            os.environ.pop(name, None)
        os.environ["ZORGBROKER_MAIL_ENABLED"] = "false"
        port = _free_port()
        url = f"http://127.0.0.1:{port}"
        tokens = _tokens(url, args.concurrent + 1)
        token = tokens[-1]
        print(f"stage-1 files: {args.repeat * 2} of {args.rows:,} rows, "
              f"{args.concurrent} of {args.concurrent_rows:,} rows ...", flush=True)  # fmt: skip
        large = [_stage1(home, files, args.rows, seed) for seed in range(1, 2 * args.repeat + 1)]
        small = [
            _stage1(home, files, args.concurrent_rows, 1000 + i) for i in range(args.concurrent)
        ]
        slots = [] if args.slots is None else ["--slots", str(args.slots)]
        server = subprocess.Popen([sys.executable, __file__, "--serve", str(port), *slots])
        try:
            deadline = time.monotonic() + 60
            while True:
                try:
                    httpx.get(f"{url}/api/v1/openapi.json").raise_for_status()
                    break
                except httpx.TransportError:
                    assert time.monotonic() < deadline, "the portal did not start"
                    time.sleep(0.2)
            headers = {"Authorization": f"Bearer {token}"}
            with httpx.Client(base_url=f"{url}/api/v1", headers=headers, timeout=600) as client:
                api_runs = []
                api_ids: list[int] = []
                local_runs = []
                for run in range(args.repeat):
                    seconds, status = _through_api(client, large[2 * run])
                    assert status["status"] == "done", status
                    api_runs.append(seconds)
                    api_ids.append(int(str(status["id"])))
                    local_runs.append(_in_process(large[2 * run + 1]))
                    print(f"run {run + 1}: API {seconds:.2f} s, in process "
                          f"{local_runs[-1]:.2f} s", flush=True)  # fmt: skip
                held_before = _held_records()

                def one(path: Path, own_token: str) -> dict[str, object]:
                    own_headers = {"Authorization": f"Bearer {own_token}"}
                    with httpx.Client(base_url=f"{url}/api/v1", headers=own_headers,
                                      timeout=600) as own:  # fmt: skip
                        return _through_api(own, path, poll=0.25)[1]

                started = time.perf_counter()
                with ThreadPoolExecutor(max_workers=args.concurrent) as pool:
                    statuses = list(pool.map(one, small, tokens))
                wall = time.perf_counter() - started
            peak = _peak_rss_mib(server.pid)
        finally:
            server.terminate()
            try:
                server.wait(timeout=30)
            except subprocess.TimeoutExpired:  # still processing: it has no state to keep
                server.kill()
                server.wait()
        held_after = _held_records()
        ids = {s["id"] for s in statuses}
        done = [s for s in statuses if s["status"] == "done"]
        stored_new = sum(int(s["stored"]["new"]) for s in done)  # type: ignore[index]
        total = args.concurrent * args.concurrent_rows
        print()
        if args.repeat:
            _print_large(args.rows, api_runs, api_ids, local_runs)
        print(f"{args.concurrent} concurrent API uploads of {args.concurrent_rows:,} rows:")
        print(f"  wall {wall:.2f} s, {total / wall:,.0f} rows/s")
        print(f"  uploads: {len(ids)} distinct, {len(done)} done; stored new {stored_new:,}; "
              f"registry grew by {held_after - held_before:,}")  # fmt: skip
        intact = len(ids) == len(done) == args.concurrent
        intact = intact and stored_new == held_after - held_before
        print(f"  all stored once, none lost: {intact}")
        if peak is not None:
            print(f"portal process peak memory: {peak:,.0f} MiB")


if __name__ == "__main__":
    main()
