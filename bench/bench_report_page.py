"""Benchmark: the portal's report page of a 100,000-message report, beside the Excel download (what
a data manager has without the page) and beside reading the messages from the JSON report on
every view (what the page would cost without the Parquet copy).

The portal runs in-process (FastAPI's TestClient, the tests' accounts stand-ins on SQLite); the
report is a synthetic one put on a real upload: `--messages` messages over 20 codes and 25
fields. Each kind of page view runs `--repeat` times; p50 and p95 are of wall-clock seconds
per request, session lookup, access-log write and rendering included.

    uv run python bench/bench_report_page.py --messages 100000
"""

from __future__ import annotations

import argparse
import dataclasses
import gzip
import io
import json
import resource
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import polars as pl
from sqlalchemy import update

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from tests.portal.uploads_support import build, upload  # noqa: E402

from zorgbroker.intake.api import write_json  # noqa: E402
from zorgbroker.registry.database import write_transaction  # noqa: E402
from zorgbroker.registry.models import Upload, UploadReport  # noqa: E402
from zorgbroker.uploads.history import read_report  # noqa: E402

CODES = [f"F-{n:03d}" for n in range(1, 15)] + [f"W-{n:03d}" for n in range(1, 7)]
FIELDS = [f"veld_{n}" for n in range(25)]


def synthetic_messages(count: int) -> pl.DataFrame:
    index = pl.int_range(0, count, eager=True)
    return (
        pl.DataFrame(
            {
                "table": pl.repeat("main", count, eager=True),
                "record": (index // 3 + 1).cast(pl.Int64),
                "field": index.map_elements(
                    lambda i: FIELDS[i % len(FIELDS)], return_dtype=pl.String
                ),
                "code": index.map_elements(
                    lambda i: CODES[(i * 7) % len(CODES)], return_dtype=pl.String
                ),
                "value": (index % 997).cast(pl.String),
                "message": pl.repeat("Waarde voldoet niet aan het formaat", count, eager=True),
            }
        )
        .with_columns(pl.col("code").str.split("-").list.first().alias("class"))
        .select("table", "record", "field", "code", "class", "value", "message")
    )


def timed(action: Callable[[], object], repeat: int) -> list[float]:
    seconds = []
    for _ in range(repeat):
        started = time.perf_counter()
        action()
        seconds.append(time.perf_counter() - started)
    return seconds


def p(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--messages", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=30)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        portal, engines = build(Path(folder))
        client = portal.signed_in(portal.hospital, "dm@rivierenland.example")
        answer = upload(client, portal.stage1(portal.export(rows=3)))
        upload_id = int(answer.headers["location"].rsplit("/", 1)[1])
        report = portal.uploads.report(upload_id)
        frame = synthetic_messages(args.messages)
        big = dataclasses.replace(
            report, messages=frame, records=args.messages // 3, rejected=args.messages // 3
        )
        body = io.StringIO()
        write_json(big, body)
        parquet = io.BytesIO()
        frame.write_parquet(parquet, compression="zstd")
        with write_transaction(portal.registry) as conn:
            conn.execute(
                update(UploadReport)
                .where(UploadReport.upload_id == upload_id)
                .values(body=gzip.compress(body.getvalue().encode(), 6),
                        messages_parquet=parquet.getvalue())
            )  # fmt: skip
            conn.execute(
                update(Upload).where(Upload.id == upload_id).values(
                    records=big.records, rejected=big.rejected, accepted=0)
            )  # fmt: skip
        base = f"/aanleveringen/{upload_id}/rapport"
        views = {
            "page: grouped, no filter": base,
            "page: class F": f"{base}?klasse=F",
            "page: code F-003, page 20": f"{base}?code=F-003&pagina=20",
            "page: field veld_7": f"{base}?veld=veld_7",
            "download: Excel": f"{base}.xlsx",
            "download: JSON": f"{base}.json",
            "download: rejected CSV": f"/aanleveringen/{upload_id}/afgewezen.csv",
        }
        results: dict[str, list[float]] = {}
        for name, url in views.items():
            assert client.get(url).status_code == 200, url
            repeat = args.repeat if name.startswith("page") else max(3, args.repeat // 6)
            results[name] = timed(lambda url=url: client.get(url), repeat)

        def from_json() -> object:
            with portal.registry.connect() as conn:
                return read_report(conn, upload_id, "nhr-pmicd")

        def from_parquet() -> object:
            return portal.uploads.messages(upload_id)

        results["messages from the JSON report"] = timed(from_json, max(3, args.repeat // 3))
        results["messages from Parquet"] = timed(from_parquet, args.repeat)
        print(f"{args.messages} messages; JSON report {len(body.getvalue()) / 1e6:.1f} MB, "
              f"gzip {len(gzip.compress(body.getvalue().encode(), 6)) / 1e6:.1f} MB, "
              f"Parquet {len(parquet.getvalue()) / 1e6:.2f} MB")  # fmt: skip
        rows = []
        for name, seconds in results.items():
            p50 = round(statistics.median(seconds) * 1000, 1)
            p95 = round(p(seconds, 0.95) * 1000, 1)
            rows.append({"what": name, "n": len(seconds), "p50_ms": p50, "p95_ms": p95})
            print(f"{name:34} n={len(seconds):3}  p50 {rows[-1]['p50_ms']:8.1f} ms  "
                  f"p95 {rows[-1]['p95_ms']:8.1f} ms")  # fmt: skip
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(f"peak RSS of the process: {peak:.0f} MB")
        print(json.dumps(rows))
        for engine in engines:
            engine.dispose()


if __name__ == "__main__":
    main()
