"""Reading an export and running the source checks in the browser (stage1/read.js, checks.js).

A generated nhr-pmicd export of 100,000 rows (1 % seeded faults) in CSV and in XLSX, read by
`readExport` and checked by `sourceFindings` in Debian's Chromium (headless), five runs each,
the median counting; beside it the Python side's `source_findings` on the same file (the check a
`zorgbroker pseudonymise` runs). Wall clock inside the page (performance.now()), the file handed
over as a Blob already in memory, so what is timed is the reading and checking alone. The
browser's JS heap after the run is printed as well (performance.memory, Chromium only).

    uv run python bench/bench_stage1_browser_read.py [ROWS]
"""

from __future__ import annotations

import base64
import datetime as dt
import statistics
import sys
import tempfile
import time
from pathlib import Path

from playwright.sync_api import sync_playwright

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.browser.conftest import CHROMIUM, CHROMIUM_ARGS
from tests.browser.stage1_support import plan_of, serve_static

from zorgbroker.intake.api import generate, load_dataset, source_findings

TODAY = dt.date(2026, 12, 1)
RUN_JS = """
async ([data, name, plan, today, runs]) => {
  const { readExport } = await import("/stage1/read.js");
  const { sourceFindings } = await import("/stage1/checks.js");
  const bytes = Uint8Array.from(atob(data), (c) => c.charCodeAt(0));
  const file = new File([bytes], name);
  const times = [];
  let findings = 0;
  for (let run = 0; run < runs; run++) {
    const start = performance.now();
    const read = await readExport(file, plan);
    const middle = performance.now();
    findings = 0;
    for (const table of read.tables) {
      for (const f of sourceFindings(plan, table, { today }).findings) if (f) findings++;
    }
    times.push([middle - start, performance.now() - middle]);
  }
  return { times, findings, heap: performance.memory ? performance.memory.usedJSHeapSize : null };
}
"""


def main() -> None:
    rows = int(sys.argv[1]) if len(sys.argv) > 1 else 100_000
    dataset = "nhr-pmicd"
    spec = load_dataset(dataset)
    with tempfile.TemporaryDirectory() as folder, serve_static() as url, sync_playwright() as pw:
        browser = pw.chromium.launch(
            executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True
        )
        page = browser.new_page()
        page.goto(url + "/portal.css")
        for suffix in (".csv", ".xlsx"):
            path = Path(folder) / f"export{suffix}"
            generate(dataset, rows=rows, error_rate=0.01, seed=1, out=path, today=TODAY)
            data = base64.b64encode(path.read_bytes()).decode()
            out = page.evaluate(RUN_JS, [data, path.name, plan_of(dataset), TODAY.isoformat(), 5])
            read = statistics.median(t[0] for t in out["times"])
            check = statistics.median(t[1] for t in out["times"])
            python = []
            for _ in range(3):
                start = time.perf_counter()
                source_findings(path, spec, today=TODAY)
                python.append(time.perf_counter() - start)
            heap = out["heap"] / 1024**2 if out["heap"] else float("nan")
            print(
                f"{suffix[1:]:5} {rows} rows, {path.stat().st_size / 1024**2:.1f} MB: "
                f"browser read {read:.0f} ms, source checks {check:.0f} ms "
                f"({rows / (read + check) * 1000:,.0f} rows/s, {out['findings']} rows with "
                f"findings, JS heap {heap:.0f} MB); Python source_findings "
                f"{statistics.median(python) * 1000:.0f} ms (whole check)"
            )
        browser.close()


if __name__ == "__main__":
    main()
