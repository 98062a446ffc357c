"""Issue 16's story on `zorgbroker demo` as a user starts it, in Chromium: sign in, a test
upload of the demo's generated export with live progress, the report page filtered, its Excel
download opened with calamine, a production upload with the printed TTP password, the history,
and the mail in the demo mailbox; then everything the registry side wrote is searched for the
export's identifiers."""

from __future__ import annotations

import base64
import csv
import re
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Page, expect
from python_calamine import CalamineWorkbook

from tests.browser.test_demo import RunningDemo, demo, sign_in_of, stop  # noqa: F401
from tests.wire import opened
from zorgbroker.platform.demo import DEMO_USERS

pytestmark = pytest.mark.slow

EMAIL = "datamanager@rivierenland.example.nl"

RECORD_FETCH_BODIES = """
(() => {
  const original = window.fetch;
  window.fetch = async (input, init) => {
    const body = init && init.body;
    const parts = body instanceof FormData ? [...body.values()] : body ? [body] : [];
    for (const part of parts) {
      const bytes = part instanceof Blob
        ? new Uint8Array(await part.arrayBuffer())
        : new TextEncoder().encode(String(part));
      let text = "";
      for (let i = 0; i < bytes.length; i += 0x8000) {
        text += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
      }
      await window.zbRecordSent(btoa(text));
    }
    return original(input, init);
  };
})();
"""


def _printed_ttp_password(printed: str) -> str:
    found = re.search(r"TTP-wachtwoord voor aanleveren in productie: (\S+)", printed)
    assert found, printed
    return found.group(1)


def _demo_csv(printed: str) -> Path:
    found = re.search(r"(\S+demo-nhr-pmicd\.csv)", printed)
    assert found, printed
    return Path(found.group(1))


def _upload(page: Page, url: str, export: Path, button: str, ttp_password: str = "") -> str:
    page.goto(url + "/")
    page.get_by_role("link", name="Aanleveren").first.click()
    page.get_by_label("Dataset").select_option("nhr-pmicd")
    page.set_input_files("#export", str(export))
    if ttp_password:
        page.get_by_label("TTP-wachtwoord").fill(ttp_password)
    page.get_by_role("button", name=button).click()
    page.wait_for_url(re.compile(r".*/aanleveringen/\d+$"), timeout=60_000)
    # Live progress: the server's stages appear while the page polls, then the outcome.
    expect(page.get_by_role("table", name="Stappen van de verwerking")).to_be_visible()
    expect(page.get_by_role("status")).to_have_text("Status: verwerkt", timeout=60_000)
    expect(page.get_by_text(re.compile(r"Klaar: \d+ records"))).to_be_visible()
    return page.url.rsplit("/", 1)[1]


def _identifiers(export: Path) -> list[bytes]:
    """The export's BSNs, surnames and birth dates. Left out: surnames that the demo's users
    bear themselves (the accounts are in the same database), and the generator's deliberate
    birth dates in recent years, which a registry holds anyway as dates of procedures."""
    with export.open(encoding="utf-8-sig", newline="") as handle:
        rows = list(csv.DictReader(handle, delimiter=";"))
    users = " ".join(user.name for user in DEMO_USERS)
    found = {row["bsn"] for row in rows if len(row["bsn"]) >= 8}
    found |= {
        row["achternaam"]
        for row in rows
        if len(row["achternaam"]) >= 5 and row["achternaam"] not in users
    }
    found |= {row["geboortedatum"] for row in rows if "1900" < row["geboortedatum"] < "2010"}
    return sorted(value.encode() for value in found)


def _registry_side(home: Path) -> list[Path]:
    """What the registry side wrote: everything under the demo's home except the source's own
    export files, the source's key folder and the TTP's folder (the TTP opens sealed BSNs)."""
    skipped = {home / "demo-bestanden", home / "source", home / "ttp"}
    return [
        path
        for path in home.rglob("*")
        if path.is_file() and not any(part in skipped for part in path.parents)
    ]


def test_a_data_manager_uploads_through_the_demo_and_works_through_the_report(
    browser: Any,
    demo: RunningDemo,  # noqa: F811
    tmp_path: Path,
) -> None:
    export = _demo_csv(demo.printed)
    context = browser.new_context(accept_downloads=True)
    page = context.new_page()
    # Every request body the browser sends the portal (the registry side), kept for the scan:
    # forms as Chromium reports them, and the parts of each fetch() body (Chromium does not
    # report a body made of a file) through a wrapper around fetch.
    sent: list[bytes] = []
    page.on("request", lambda request: sent.append(request.post_data_buffer or b""))
    page.expose_function("zbRecordSent", lambda b64: sent.append(base64.b64decode(b64)))
    page.add_init_script(RECORD_FETCH_BODIES)
    page.goto(demo.url + "/aanmelden")
    page.get_by_label("E-mailadres").fill(EMAIL)
    page.get_by_label("Wachtwoord").fill(sign_in_of(demo.printed, EMAIL))
    page.get_by_role("button", name="Aanmelden").click()
    expect(page.get_by_role("heading", name="Welkom, Daan de Vries")).to_be_visible()

    # A test upload: pseudonymised in the browser with a throw-away key, checked, not stored.
    test_id = _upload(page, demo.url, export, "Anonimiseren voor testaanlevering")
    page.get_by_role("link", name="Bekijk het rapport").click()
    expect(page.get_by_text("Dit was een testaanlevering. Er is niets opgeslagen.")).to_be_visible()
    page.get_by_label("Klasse").select_option("F")
    expect(page).to_have_url(re.compile(rf"/aanleveringen/{test_id}/rapport\?klasse=F"))
    rows = page.locator("#meldingen tbody tr")
    expect(rows.first).to_be_visible()
    for text in rows.all_inner_texts():
        assert "F-" in text and "BF-" not in text and "W-" not in text, text

    with page.expect_download() as downloaded:
        page.get_by_role("link", name="Rapport (Excel)").click()
    workbook_path = tmp_path / downloaded.value.suggested_filename
    downloaded.value.save_as(workbook_path)
    assert workbook_path.suffix == ".xlsx"
    workbook = CalamineWorkbook.from_path(str(workbook_path))
    assert workbook.sheet_names, "the Excel report has sheets"
    cells = [
        str(cell)
        for name in workbook.sheet_names
        for row in workbook.get_sheet_by_name(name).to_python()
        for cell in row
    ]
    assert any(cell.startswith("F-") for cell in cells), "the F messages are in the workbook"

    # A production upload: the project key opened in the browser with the TTP password.
    password = _printed_ttp_password(demo.printed)
    production_id = _upload(page, demo.url, export, "Versleutelen met TTP", password)
    page.get_by_role("link", name="Bekijk het rapport").click()
    expect(page.get_by_text("opgeslagen", exact=False).first).to_be_visible()
    expect(page.get_by_text("Er is niets opgeslagen.")).to_have_count(0)

    # The history: both, newest first, with the databroker's columns.
    page.get_by_role("link", name="Aanleveringen").first.click()
    history = page.locator("table tbody tr")
    expect(history).to_have_count(2)
    assert "productie" in history.nth(0).inner_text().lower()
    assert "test" in history.nth(1).inner_text().lower()
    for upload_id in (test_id, production_id):
        expect(
            page.get_by_role("link", name=f"Rapport van aanlevering {upload_id}")
        ).to_be_visible()

    # The mail that says it is done, in the demo mailbox.
    page.goto(demo.url + "/demo/mailbox")
    expect(page.get_by_text(f"Aan: {EMAIL}").first).to_be_visible()
    mails = [p.read_bytes() for p in (demo.home / "mailbox").glob("*.eml")]
    assert any(EMAIL.encode() in mail and production_id.encode() in mail for mail in mails)
    context.close()
    stop(demo)

    # Privacy: nothing the registry side received or wrote holds a BSN, surname or birth date
    # of the export. The stage-1 files are deflated ZIPs: what was sent is searched unpacked.
    identifiers = _identifiers(export)
    assert len(identifiers) > 100
    received = opened(b"".join(sent))
    assert received.count(b"zb_bronbevindingen") >= 2, "both stage-1 files, unpacked"
    leaked = [value for value in identifiers if value in received]
    assert not leaked, f"the browser sent {leaked[:3]}"
    written = _registry_side(demo.home)
    assert demo.home / "registry.sqlite3" in written
    for path in written:
        data = path.read_bytes()
        leaked = [value for value in identifiers if value in data]
        assert not leaked, f"{path} holds {leaked[:3]}"
