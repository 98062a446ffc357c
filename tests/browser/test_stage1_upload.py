"""The upload page's glue (portal/static/stage1/upload.js) in Chromium: the export is made into
its stage-1 file in the browser and only that is posted (as `bestand`, with dataset, mode and
the CSRF token); the page then follows the portal's redirect. The portal's side is played by
Playwright's routing here; the page's template is engineer pages' (uploads/start.html)."""

from __future__ import annotations

import base64
import datetime as dt
import importlib
import io
import json
import re
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey

from tests.browser.static_site import Answer, static_page
from zorgbroker.intake import api as intake_api
from zorgbroker.portal.app import STATIC
from zorgbroker.pseudonymisation.browser_plan import browser_plan
from zorgbroker.pseudonymisation.method import fingerprint

DAY = dt.date(2026, 12, 7)
KEY = bytes(range(0x80, 0xA0))
PASSWORD = "goed wachtwoord"
FORM = """<!doctype html><html lang="nl"><head><title>Aanleveren</title></head><body>
<form id="aanlevering" method="post" action="/aanleveren" enctype="multipart/form-data"
      data-plan-url="/aanleveren/plan/{dataset}.json">
  <input type="hidden" name="csrf_token" value="csrf-geheim">
  <select id="dataset" name="dataset"><option value="nhr-pmicd">NHR</option></select>
  <input id="export" type="file" name="export">
  <input id="ttp_wachtwoord" type="password" name="ttp_wachtwoord">
  <button type="submit" name="mode" value="production">Productie</button>
  <button type="submit" name="mode" value="test">Test</button>
</form>
<div id="voortgang-browser" aria-live="polite"></div>
<script type="module" src="/static/stage1/upload.js"></script>
</body></html>"""


def wrapped_key() -> dict[str, Any]:
    """The project key wrapped under PASSWORD as the TTP relays it (keywrap.js, engineer
    ttpkey's); while that module is not merged, what the test's stand-in reads."""
    if (STATIC / "stage1" / "keywrap.js").exists():
        keywrap = importlib.import_module("zorgbroker.pseudonymisation.keywrap")
        blob = keywrap.wrap_key(
            KEY, PASSWORD, registry="nhr", organisation="01234567",
            email="jan@ziekenhuis.example", iterations=100_000,
        )  # fmt: skip
        return dict(blob.to_json())
    return {"wrapped": base64.b64encode(KEY).decode()}


class Portal:
    """What the portal answers, and what it was sent."""

    def __init__(self, plan: dict[str, Any]) -> None:
        self.plan = plan
        self.posts: list[tuple[dict[str, str], bytes]] = []
        #: What the portal answers a post with (its redirect unless a test says otherwise).
        self.post_answer = Answer(status=303, headers={"Location": "/aanleveren/7"})

    def answer(self, method: str, path: str, headers: dict[str, str], body: bytes) -> Answer | None:
        if path == "/aanleveren/start":
            return Answer(body=FORM.encode())
        if path == "/aanleveren/plan/nhr-pmicd.json":
            return Answer(body=json.dumps(self.plan).encode(), content_type="application/json")
        if path == "/aanleveren/sleutel/nhr":
            return Answer(body=json.dumps(wrapped_key()).encode(), content_type="application/json")
        if path == "/aanleveren" and method == "POST":
            self.posts.append((headers, body))
            return self.post_answer
        if path == "/aanleveren/7":
            return Answer(body=b"<h1>Voortgang</h1>")
        return None


@pytest.fixture
def portal() -> Portal:
    return Portal(browser_plan(intake_api.load_dataset("nhr-pmicd"), ttp_public_key=None))


@pytest.fixture
def page(browser: Any, portal: Portal) -> Iterator[Any]:
    for opened in static_page(browser, portal.answer):
        opened.goto("/aanleveren/start")
        yield opened


def _parts(headers: dict[str, str], body: bytes) -> dict[str, bytes]:
    boundary = re.search(r"boundary=(.+)", headers["content-type"]).group(1)  # type: ignore[union-attr]
    out = {}
    for part in body.split(b"--" + boundary.encode())[1:-1]:
        head, _, content = part.partition(b"\r\n\r\n")
        name = re.search(rb'name="([^"]+)"', head).group(1).decode()  # type: ignore[union-attr]
        out[name] = content.removesuffix(b"\r\n")
    return out


@pytest.fixture
def export(tmp_path: Path) -> Path:
    path = tmp_path / "export.csv"
    intake_api.generate("nhr-pmicd", rows=50, out=path, today=DAY)
    return path


def test_a_test_upload_sends_only_the_stage1_file(page: Any, portal: Portal, export: Path) -> None:
    page.set_input_files("#export", str(export))
    page.click("button[value=test]")
    page.wait_for_url("**/aanleveren/7")
    assert page.locator("h1").inner_text() == "Voortgang"
    ((headers, body),) = portal.posts
    parts = _parts(headers, body)
    assert set(parts) == {"csrf_token", "dataset", "mode", "bestand"}
    assert (parts["csrf_token"], parts["dataset"], parts["mode"]) == (
        b"csrf-geheim",
        b"nhr-pmicd",
        b"test",
    )
    with zipfile.ZipFile(io.BytesIO(parts["bestand"])) as archive:
        manifest = json.loads(archive.read("zorgbroker-stap1.json"))
        # What was sent, unpacked: the members are deflated, so the body alone proves nothing.
        sent = body + b"".join(archive.read(name) for name in archive.namelist())
    assert manifest["file"]["name"] == "export.csv"
    assert manifest["source_key_fingerprint"] != fingerprint(KEY)
    # No BSN, surname or full birth date of the export is in what was sent.
    raw = export.read_text(encoding="utf-8").splitlines()
    header = raw[0].split(";")
    checked = 0
    for line in raw[1:]:
        cells = dict(zip(header, line.split(";"), strict=True))
        for field in ("bsn", "achternaam", "geboortedatum"):
            if cells[field]:
                assert cells[field].encode() not in sent, field
                checked += 1
    assert checked > 100


def test_production_takes_the_key_opened_with_the_ttp_password(
    page: Any, portal: Portal, export: Path
) -> None:
    ttp = X25519PrivateKey.generate().public_key().public_bytes_raw()
    portal.plan = browser_plan(intake_api.load_dataset("nhr-pmicd"), ttp_public_key=ttp)
    page.set_input_files("#export", str(export))
    page.fill("#ttp_wachtwoord", PASSWORD)
    page.click("button[value=production]")
    page.wait_for_url("**/aanleveren/7")
    ((headers, body),) = portal.posts
    parts = _parts(headers, body)
    assert parts["mode"] == b"production"
    with zipfile.ZipFile(io.BytesIO(parts["bestand"])) as archive:
        manifest = json.loads(archive.read("zorgbroker-stap1.json"))
        sealed = archive.read("main.csv").decode().splitlines()[1].split(";")
    assert manifest["source_key_fingerprint"] == fingerprint(KEY)
    assert any(cell.startswith("zb1s.") for cell in sealed)


def test_without_the_ttps_key_production_says_why_and_sends_nothing(
    page: Any, portal: Portal, export: Path
) -> None:
    page.set_input_files("#export", str(export))
    page.fill("#ttp_wachtwoord", PASSWORD)
    # This plan has no sealing key, and nhr must seal its BSNs for the TTP.
    page.click("button[value=production]")
    status = page.locator("#voortgang-browser")
    status.filter(has_text="publieke sleutel van de TTP ontbreekt").wait_for()
    assert portal.posts == []
    assert page.url.endswith("/aanleveren/start")


def test_a_wrong_password_is_said_and_nothing_is_sent(
    page: Any, portal: Portal, export: Path
) -> None:
    page.set_input_files("#export", str(export))
    page.fill("#ttp_wachtwoord", "fout")
    page.click("button[value=production]")
    page.locator("#voortgang-browser").filter(has_text="TTP-wachtwoord klopt niet").wait_for()
    assert portal.posts == []


def test_production_without_a_password_asks_for_it(page: Any, portal: Portal, export: Path) -> None:
    page.set_input_files("#export", str(export))
    page.click("button[value=production]")
    page.locator("#voortgang-browser").filter(has_text="Vul uw TTP-wachtwoord in").wait_for()
    assert portal.posts == []


#: The start page again, with the portal's error (templates/base.html's #foutmelding).
REFUSAL_PAGE = (
    b'<main><div class="error" role="alert" id="foutmelding"><h2>Fout</h2>'
    b"<p>Kies een dataset en een van de twee knoppen.</p></div></main>"
)


@pytest.mark.parametrize(
    ("answer", "shown"),
    [
        (
            Answer(status=413, body=b"Het bestand is te groot om aan te leveren.",
                   content_type="text/plain; charset=utf-8"),
            "te groot om aan te leveren",
        ),
        (
            Answer(status=400, body=REFUSAL_PAGE),
            "Kies een dataset en een van de twee knoppen.",
        ),
    ],
)  # fmt: skip
def test_a_refusal_by_the_portal_is_shown_in_its_words(
    page: Any, portal: Portal, export: Path, answer: Answer, shown: str
) -> None:
    portal.post_answer = answer
    page.set_input_files("#export", str(export))
    page.click("button[value=test]")
    status = page.locator("#voortgang-browser")
    status.filter(has_text="Het portaal weigerde het stap-1-bestand: ").wait_for()
    assert shown in status.inner_text()
    assert page.url.endswith("/aanleveren/start")
