"""keywrap.js in Debian's Chromium against the published vectors that Python checks too
(src/zorgbroker/pseudonymisation/vectors/keywrap-vectors.json)."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import zorgbroker.pseudonymisation
from zorgbroker.portal.app import STATIC

VECTORS_FILE = (
    Path(zorgbroker.pseudonymisation.__file__).parent / "vectors" / "keywrap-vectors.json"
)
ORIGIN = "https://portaal.test"
PAGE = "<!doctype html><meta charset=utf-8><title>keywrap</title>"


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    """A page on a secure origin (WebCrypto needs one) whose /static/ is the portal's folder."""
    context = browser.new_context()
    opened = context.new_page()

    def serve(route: Any) -> None:
        path = route.request.url.removeprefix(ORIGIN)
        if path.startswith("/static/"):
            file = STATIC / path.removeprefix("/static/")
            route.fulfill(body=file.read_bytes(), content_type="text/javascript")
        else:
            route.fulfill(body=PAGE, content_type="text/html")

    opened.route(f"{ORIGIN}/**", serve)
    opened.goto(f"{ORIGIN}/")
    yield opened
    context.close()


UNWRAP = """async ([blob, password]) => {
  const { unwrapSourceKey } = await import("/static/stage1/keywrap.js");
  const started = performance.now();
  try {
    const key = await unwrapSourceKey(blob, password);
    const hex = Array.from(key, (b) => b.toString(16).padStart(2, "0")).join("");
    return { hex, ms: performance.now() - started };
  } catch (error) {
    return { error: error.message, ms: performance.now() - started };
  }
}"""


def test_the_browser_unwraps_every_published_vector(page: Any) -> None:
    data = json.loads(VECTORS_FILE.read_text("utf-8"))
    for vector in data["vectors"]:
        result = page.evaluate(UNWRAP, [vector["blob"], vector["password"]])
        assert result.get("hex") == vector["key_hex"], (vector["note"], result)


def test_the_browser_refuses_every_published_refusal_in_dutch(page: Any) -> None:
    data = json.loads(VECTORS_FILE.read_text("utf-8"))
    for refusal in data["refusals"]:
        result = page.evaluate(UNWRAP, [refusal["blob"], refusal["password"]])
        assert result == {"error": "Het TTP-wachtwoord klopt niet.", "ms": result["ms"]}, refusal[
            "note"
        ]


def test_a_decomposed_password_opens_the_blob_as_the_composed_one(page: Any) -> None:
    data = json.loads(VECTORS_FILE.read_text("utf-8"))
    vector = next(v for v in data["vectors"] if not v["password"].isascii())
    decomposed = page.evaluate("(p) => p.normalize('NFD')", vector["password"])
    assert decomposed != vector["password"]
    result = page.evaluate(UNWRAP, [vector["blob"], decomposed])
    assert result.get("hex") == vector["key_hex"]


def test_a_blob_asking_for_too_few_rounds_is_refused(page: Any) -> None:
    data = json.loads(VECTORS_FILE.read_text("utf-8"))
    vector = data["vectors"][0]
    weakened = dict(vector["blob"], iterations=1000)
    result = page.evaluate(UNWRAP, [weakened, vector["password"]])
    assert "te weinig PBKDF2-rondes" in result["error"]


@pytest.mark.slow
def test_in_the_demo_the_printed_ttp_password_opens_the_key_the_command_line_uses(
    browser: Any, tmp_path: Path
) -> None:
    """`zorgbroker demo`: the uploader signs in with the printed password, the page fetches the
    relayed wrapping and unwraps it with the printed TTP password, and gets the project key that
    `zorgbroker submit` on the same machine uses."""
    from playwright.sync_api import expect

    from tests.browser.conftest import _free_port
    from tests.browser.test_demo import sign_in_of, start_demo, stop
    from zorgbroker.pseudonymisation.custody import source_key

    demo = start_demo(tmp_path / "home", _free_port())
    try:
        email = "datamanager@rivierenland.example.nl"
        found = re.search(r"TTP-wachtwoord voor aanleveren in productie: (\S+)", demo.printed)
        assert found, demo.printed
        context = browser.new_context()
        opened = context.new_page()
        opened.goto(demo.url + "/aanmelden")
        opened.get_by_label("E-mailadres").fill(email)
        opened.get_by_label("Wachtwoord").fill(sign_in_of(demo.printed, email))
        opened.get_by_role("button", name="Aanmelden").click()
        expect(opened.get_by_role("heading", name="Welkom, Daan de Vries")).to_be_visible()
        result = opened.evaluate(
            """async (password) => {
              const answer = await fetch("/aanleveren/sleutel/nhr");
              const blob = await answer.json();
              const { unwrapSourceKey } = await import("/static/stage1/keywrap.js");
              const key = await unwrapSourceKey(blob, password);
              let wrong = null;
              try { await unwrapSourceKey(blob, password + "x"); }
              catch (error) { wrong = error.message; }
              return { hex: Array.from(key, (b) => b.toString(16).padStart(2, "0")).join(""),
                       wrong };
            }""",
            found.group(1),
        )
        context.close()
        assert result["wrong"] == "Het TTP-wachtwoord klopt niet."
        assert result["hex"] == source_key(demo.home, "nhr").hex()
        mails = b"".join(p.read_bytes() for p in (demo.home / "mailbox").glob("*.eml"))
        assert mails.count(b"Subject: Stel uw TTP-wachtwoord in") == 3
    finally:
        stop(demo)
