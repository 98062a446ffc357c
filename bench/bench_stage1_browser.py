"""The browser's stage 1 (portal/static/stage1) beside `zorgbroker pseudonymise`: one generated
nhr-pmicd export (100,000 rows by default, 2% faults) made into its stage-1 file in headless
Chromium (production: the project key, every BSN sealed for the TTP; and a test upload: a
throw-away key, nothing sealed), and by the command on the same file. Rows per second and wall
time, best of three; the browser's time split into reading, checking + pseudonymising, zipping,
with the ZIP deflated in a worker beside the page (the default) and on the page itself.

    uv run python bench/bench_stage1_browser.py [--rows 100000] [--repeat 3]
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.browser.conftest import CHROMIUM, CHROMIUM_ARGS
from tests.browser.static_site import static_page

from zorgbroker.intake import api as intake_api
from zorgbroker.pseudonymisation.browser_plan import browser_plan
from zorgbroker.pseudonymisation.ttp import TrustedThirdParty

KEY = bytes(range(0x80, 0xA0))

#: Times makeStage1 on the file in the page's file input; phase times from its progress reports.
_RUN = """
async ({ plan, key, mode, useWorker }) => {
  const { makeStage1 } = await import("/static/stage1/stage1.js");
  const file = document.getElementById("export").files[0];
  const marks = {};
  const started = performance.now();
  const made = await makeStage1(file, plan, {
    mode,
    sourceKey: key ? Uint8Array.from(key) : null,
    useWorker,
    onProgress: (p) => { if (!(p.phase in marks)) marks[p.phase] = performance.now() - started; },
  });
  const total = performance.now() - started;
  return { total, marks, bytes: made.blob.size, rows: made.summary.rows };
}
"""


def _browser(
    page: Any, plan: dict[str, Any], mode: str, worker: bool, repeat: int
) -> dict[str, Any]:
    arguments = {"plan": plan, "key": list(KEY), "mode": mode, "useWorker": worker}
    runs = [page.evaluate(_RUN, arguments) for _ in range(repeat)]
    return min(runs, key=lambda r: r["total"])


def _command(export: Path, home: Path, repeat: int) -> float:
    env = {**os.environ, "ZORGBROKER_HOME": str(home)}
    best = float("inf")
    for _ in range(repeat):
        out = home / "stap1.zip"
        started = time.perf_counter()
        subprocess.run(
            [sys.executable, "-m", "zorgbroker", "pseudonymise", str(export), "--dataset",
             "nhr-pmicd", "--registry", "nhr", "--output", str(out)],
            env=env, check=True, capture_output=True,
        )  # fmt: skip
        best = min(best, time.perf_counter() - started)
    return best


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory() as folder:
        export = Path(folder) / "export.csv"
        intake_api.generate(
            "nhr-pmicd", rows=args.rows, out=export, error_rate=0.02, today=dt.date.today()
        )
        home = Path(folder) / "home"
        ttp = TrustedThirdParty(home)
        ttp.init(["nhr"])
        plan = browser_plan(
            intake_api.load_dataset("nhr-pmicd"), ttp_public_key=ttp.seal_public_key()
        )
        size = export.stat().st_size / 1e6
        print(f"nhr-pmicd, {args.rows:,} rows, {size:.1f} MB CSV; best of {args.repeat}")
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(
                executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True
            )
            for page in static_page(browser):
                page.evaluate(
                    "() => { const i = document.createElement('input'); i.type = 'file';"
                    " i.id = 'export'; document.body.append(i); }"
                )
                page.set_input_files("#export", str(export))
                for mode, worker in [
                    ("production", True),
                    ("production", False),
                    ("test", True),
                    ("test", False),
                ]:
                    run = _browser(page, plan, mode, worker, args.repeat)
                    seconds = run["total"] / 1000
                    marks = run["marks"]
                    read = marks.get("pseudonimiseren", 0) / 1000
                    zipped = marks.get("inpakken", 0) / 1000
                    print(
                        f"browser, {mode:<10} {'zip worker' if worker else 'zip on page'}"
                        f" {args.rows / seconds:>10,.0f} rows/s  "
                        f"{seconds:5.2f} s  (reading {read:.2f} s, checks + stage 1 "
                        f"{zipped - read:.2f} s, zip {seconds - zipped:.2f} s; "
                        f"{run['bytes'] / 1e6:.1f} MB)"
                    )
            browser.close()
        seconds = _command(export, home, args.repeat)
        print(
            f"zorgbroker pseudonymise                 {args.rows / seconds:>10,.0f} rows/s"
            f"  {seconds:5.2f} s"
            "  (a new process: start-up included)"
        )


if __name__ == "__main__":
    main()
