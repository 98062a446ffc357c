"""Benchmark: unwrapping the source key with the TTP password (docs/pseudonymisation.md, 9).

How long PBKDF2-HMAC-SHA256 + AES-GCM takes at several iteration counts, in Debian's Chromium
(WebCrypto, what the portal's browser does) beside Python's hashlib (what the TTP does when it
wraps, and what an attacker's CPU does per guess). The median of `--repeat` runs each.

    uv run python bench/bench_keywrap.py
"""

from __future__ import annotations

import argparse
import statistics
import time
from typing import Any

from zorgbroker.portal.app import STATIC
from zorgbroker.pseudonymisation.keywrap import ITERATIONS, unwrap_key, wrap_key

ORIGIN = "https://portaal.test"
CHROMIUM = "/usr/bin/chromium"
UNWRAP = """async ([blob, password]) => {
  const { unwrapSourceKey } = await import("/static/stage1/keywrap.js");
  const started = performance.now();
  await unwrapSourceKey(blob, password);
  return performance.now() - started;
}"""


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    password = "Grachtenpand-kwartel-zeilboot-58"
    counts = [100_000, 600_000, ITERATIONS, 2_000_000]
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, args=["--no-sandbox", "--disable-background-networking"]
        )
        page = browser.new_page()

        def serve(route: Any) -> None:
            path = route.request.url.removeprefix(ORIGIN)
            if path.startswith("/static/"):
                body = (STATIC / path.removeprefix("/static/")).read_bytes()
                route.fulfill(body=body, content_type="text/javascript")
            else:
                route.fulfill(body="<!doctype html><title>b</title>", content_type="text/html")

        page.route(f"{ORIGIN}/**", serve)
        page.goto(f"{ORIGIN}/")
        print(f"{'iterations':>10}  {'Chromium ms':>11}  {'Python ms':>9}")
        for count in counts:
            blob = wrap_key(
                bytes(32), password, registry="nhr", organisation="01234567",
                email="a@b.example", iterations=count,
            )  # fmt: skip
            browser_ms = statistics.median(
                page.evaluate(UNWRAP, [blob.to_json(), password]) for _ in range(args.repeat)
            )
            python_ms = []
            for _ in range(args.repeat):
                started = time.perf_counter()
                unwrap_key(blob, password)
                python_ms.append((time.perf_counter() - started) * 1000)
            print(f"{count:>10}  {browser_ms:>11.0f}  {statistics.median(python_ms):>9.0f}")
        browser.close()


if __name__ == "__main__":
    main()
