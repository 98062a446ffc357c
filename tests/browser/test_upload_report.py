"""The report page in a real browser: filter by class (htmx swaps the messages and the address),
"toon alle" of one code, a download with the server's file name; no WCAG 2.1 AA violation (axe)
on the upload pages."""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import uvicorn
from playwright.sync_api import Page, expect

from tests.browser.conftest import _free_port
from tests.browser.test_sign_in_story import axe_audit
from tests.intake.conftest import write_csv
from tests.portal.conftest import SYSTEM
from tests.portal.uploads_support import PASSWORD, UploadPortal, build
from tests.registry.conftest import AGB, NHR_HEADER, serial_rows
from zorgbroker.portal.app import STATIC

pytestmark = pytest.mark.slow
EMAIL = "dm@rivierenland.example"


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[str, UploadPortal]]:
    port = _free_port()
    url = f"http://localhost:{port}"
    portal, engines = build(tmp_path, origin=url)
    server = uvicorn.Server(uvicorn.Config(portal.app, host="127.0.0.1", port=port,
                                           log_level="warning"))  # fmt: skip
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.05)
    yield url, portal
    server.should_exit = True
    thread.join(timeout=10)
    for engine in engines:
        engine.dispose()


def an_upload_with_errors(portal: UploadPortal) -> int:
    """A test upload of 25 records, each with an unknown sex code (one F message each)."""
    rows = serial_rows(25)
    for row in rows:
        row["geslacht"] = "Q"
    export = write_csv(portal.folder / "export.csv", NHR_HEADER, rows)
    return portal.uploads.submit(
        portal.stage1(export), dataset="nhr-pmicd", organisation=AGB, mode="test",
        uploaded_by=EMAIL,
    )  # fmt: skip


def sign_in(page: Page, url: str, portal: UploadPortal) -> None:
    portal.services.accounts.invite(None, portal.hospital, EMAIL, "Daan", ("uploader",), SYSTEM)
    link = next(w for w in portal.mailer.last_to(EMAIL).body.split() if "/uitnodiging/" in w)
    page.goto(link)
    page.get_by_label("Nieuw wachtwoord").fill(PASSWORD)
    page.get_by_label("Herhaal").fill(PASSWORD)
    page.get_by_role("button", name="Wachtwoord instellen").click()
    page.goto(url + "/aanmelden")
    page.get_by_label("E-mailadres").fill(EMAIL)
    page.get_by_label("Wachtwoord").fill(PASSWORD)
    page.get_by_role("button", name="Aanmelden").click()
    expect(page.get_by_role("heading", name="Welkom, Daan")).to_be_visible()


def test_the_report_page_filters_shows_all_and_downloads(
    browser: Any, served: tuple[str, UploadPortal]
) -> None:
    url, portal = served
    upload_id = an_upload_with_errors(portal)
    # Only this test's context lifts the CSP: axe is injected as an inline script.
    page = browser.new_context(bypass_csp=True, accept_downloads=True).new_page()
    sign_in(page, url, portal)
    page.goto(url + "/aanleveringen")
    axe_audit(page)
    page.get_by_role("link", name=f"Rapport van aanlevering {upload_id}").click()
    expect(page.get_by_text("Dit was een testaanlevering. Er is niets opgeslagen.")).to_be_visible()
    axe_audit(page)

    messages = page.locator("#meldingen")
    page.get_by_label("Klasse").select_option("TW")
    expect(messages).to_contain_text("Geen meldingen met dit filter.")
    expect(page).to_have_url(f"{url}/aanleveringen/{upload_id}/rapport?klasse=TW&code=&veld=")
    page.get_by_label("Klasse").select_option("F")
    expect(messages.get_by_role("link", name="Toon alle 25 meldingen")).to_have_count(1)
    expect(messages.locator("tbody tr")).to_have_count(10)
    messages.get_by_role("link", name="Toon alle 25 meldingen").click()
    expect(page.locator("#meldingen tbody tr")).to_have_count(25)
    expect(page.get_by_text("pagina 1 van 1")).to_be_attached()
    axe_audit(page)

    with page.expect_download() as download:
        page.get_by_role("link", name="Afgewezen recordnummers (CSV)").click()
    assert download.value.suggested_filename == f"afgewezen-records-aanlevering-{upload_id}.csv"
    lines = Path(download.value.path()).read_text().splitlines()
    assert lines[0] == "tabel,record" and len(lines) == 26

    for path in (f"/aanleveringen/{upload_id}", "/aanleveren", "/api-sleutels"):
        page.goto(url + path)
        axe_audit(page)


def test_the_progress_page_follows_the_processing_and_then_stops_asking(
    browser: Any, served: tuple[str, UploadPortal]
) -> None:
    url, portal = served
    export = write_csv(portal.folder / "export.csv", NHR_HEADER, serial_rows(5))
    upload_id = portal.uploads.receive(
        portal.stage1(export), dataset="nhr-pmicd", organisation=AGB, mode="test",
        uploaded_by=EMAIL,
    )  # fmt: skip
    page = browser.new_context(bypass_csp=True).new_page()
    sign_in(page, url, portal)
    page.goto(f"{url}/aanleveringen/{upload_id}")
    expect(page.get_by_role("status")).to_have_text("Status: in wachtrij")
    axe_audit(page)
    polls: list[str] = []
    page.on("request", lambda r: polls.append(r.url) if r.url.endswith("/voortgang") else None)
    portal.uploads.run(upload_id)  # as the worker would, while the page is open
    expect(page.get_by_role("status")).to_have_text("Status: verwerkt", timeout=10_000)
    expect(page.get_by_role("link", name="Bekijk het rapport")).to_be_visible()
    asked = len(polls)
    page.wait_for_timeout(2_500)
    assert asked >= 1 and len(polls) == asked  # finished: no more polling


@pytest.mark.skipif(
    not (STATIC / "stage1" / "upload.js").exists(),
    reason="the browser's stage 1 (static/stage1/upload.js, branch stage1js) is not merged yet",
)
def test_a_data_manager_uploads_in_the_browser_and_works_through_the_report(
    browser: Any, served: tuple[str, UploadPortal]
) -> None:
    """The whole story: the export chosen on the start page, made into its stage-1 file by the
    browser, posted, processed while the progress page polls, and its report opened."""
    url, portal = served
    rows = serial_rows(15)
    for row in rows[:12]:
        row["geslacht"] = "Q"
    export = write_csv(portal.folder / "export.csv", NHR_HEADER, rows)
    page = browser.new_context().new_page()
    sign_in(page, url, portal)
    page.goto(url + "/aanleveren")
    page.get_by_label("Dataset").select_option("nhr-pmicd")
    page.set_input_files("#export", str(export))
    page.get_by_role("button", name="Anonimiseren voor testaanlevering").click()
    page.wait_for_url(re.compile(r".*/aanleveringen/\d+$"), timeout=30_000)
    expect(page.get_by_text("Status: verwerkt")).to_be_visible(timeout=30_000)
    page.get_by_role("link", name="Bekijk het rapport").click()
    expect(page.get_by_text("Dit was een testaanlevering. Er is niets opgeslagen.")).to_be_visible()
    expect(page.get_by_text("15 records: 3 geaccepteerd, 12 afgewezen.")).to_be_visible()
    (info,) = portal.uploads.list()
    assert info.file_name == "export.csv" and info.organisation == AGB
