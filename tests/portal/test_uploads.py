"""The upload pages over HTTP: start page, templates, taking a stage-1 file in, progress,
history, the report page and its downloads, the access log."""

from __future__ import annotations

import io
import json
import re
import tempfile
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from python_calamine import CalamineWorkbook
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from tests.intake.conftest import write_csv
from tests.portal.conftest import ORIGIN, csrf
from tests.portal.raw_uploads import (
    RAW_KINDS,
    RAW_REFUSALS,
    files_holding,
    raw_export,
    watched_writes,
)
from tests.portal.uploads_support import REGISTRY_ADMIN, UploadPortal, upload, upload_portal
from tests.registry.conftest import NHR_HEADER, serial_rows
from tests.stage1 import make_ttp_unusable
from zorgbroker.registry.database import write_transaction
from zorgbroker.registry.models import AccessLogEntry, UploadReport

__all__ = ["upload_portal"]


def access_log(portal: UploadPortal) -> list[AccessLogEntry]:
    with Session(portal.registry) as session:
        return list(session.scalars(select(AccessLogEntry).order_by(AccessLogEntry.id)))


def test_the_start_page_has_the_form_the_browser_script_needs(upload_portal: UploadPortal) -> None:
    client = upload_portal.signed_in(upload_portal.hospital, "dm@rivierenland.example")
    page = client.get("/aanleveren")
    html = page.text
    assert page.status_code == 200
    for piece in (
        '<form id="aanlevering" method="post" action="/aanleveren" enctype="multipart/form-data"',
        'data-plan-url="/aanleveren/plan/{dataset}.json"',
        '<select id="dataset" name="dataset"',
        '<input id="export" type="file" accept=".csv,.xlsx,.zip"',
        '<input id="ttp_wachtwoord" type="password"',
        "TTP-wachtwoord",
        'name="mode" value="production" disabled>Versleutelen met TTP',
        'name="mode" value="test" disabled>Anonimiseren voor testaanlevering',
        '<div id="voortgang-browser" aria-live="polite"></div>',
        '<script type="module" src="/static/stage1/upload.js"></script>',
        "<noscript>",
    ):
        assert piece in html, piece
    assert csrf(html)
    # Named, the raw export and the TTP password would go to the registry with the browser's
    # own submit whenever the script did not run.
    assert 'name="export"' not in html
    assert 'name="ttp_wachtwoord"' not in html


def test_the_templates_hold_the_datasets_header(upload_portal: UploadPortal) -> None:
    client = upload_portal.signed_in(upload_portal.hospital, "dm@rivierenland.example")
    csv = client.get("/aanleveren/sjabloon/nhr-pmicd.csv")
    assert csv.status_code == 200
    assert csv.headers["content-disposition"] == 'attachment; filename="sjabloon-nhr-pmicd.csv"'
    assert csv.text.strip().split(",") == NHR_HEADER
    xlsx = client.get("/aanleveren/sjabloon/nhr-pmicd.xlsx")
    book = CalamineWorkbook.from_filelike(io.BytesIO(xlsx.content))
    first = book.get_sheet_by_index(0).to_python()
    assert [str(v) for v in first[0]] == NHR_HEADER
    multi = client.get("/aanleveren/sjabloon/nivel-fysio.zip")
    assert "attachment" in multi.headers["content-disposition"]
    names = zipfile.ZipFile(io.BytesIO(multi.content)).namelist()
    assert "episodes.csv" in names and "praktijk.csv" in names
    assert client.get("/aanleveren/sjabloon/nivel-fysio.csv").status_code == 404
    assert client.get("/aanleveren/sjabloon/onbekend.csv").status_code == 404


def test_a_test_upload_is_processed_shown_and_mailed(upload_portal: UploadPortal) -> None:
    portal = upload_portal
    client = portal.signed_in(portal.hospital, "dm@rivierenland.example")
    answer = upload(client, portal.stage1(portal.export(rows=3)))
    assert answer.status_code == 303
    location = answer.headers["location"]
    assert re.fullmatch(r"/aanleveringen/\d+", location)
    upload_id = int(location.rsplit("/", 1)[1])
    info = portal.uploads.get(upload_id)
    assert info is not None and info.status == "done" and info.organisation == "01234567"
    assert info.uploaded_by == "dm@rivierenland.example" and info.mode == "test"
    # The uploader hears of it.
    ((mailed, report),) = portal.letters.sent
    assert mailed.id == upload_id and report is not None
    # Progress: finished, so the fragment no longer polls; stages with rows and rows/s.
    progress = client.get(location)
    assert progress.status_code == 200 and "verwerkt" in progress.text
    assert "hx-trigger" not in progress.text
    assert "Structuur" in progress.text and "Validatie" in progress.text
    assert info.stages is not None and info.stages["validation"]["rows"] == 3
    assert f'href="/aanleveringen/{upload_id}/rapport"' in progress.text
    fragment = client.get(f"{location}/voortgang")
    assert fragment.status_code == 200 and fragment.text.lstrip().startswith("<section")
    assert '<p id="status" hx-swap-oob="true">Status: <strong>verwerkt' in fragment.text
    # History: the databroker's columns.
    history = client.get("/aanleveringen")
    for header in ("Datum en tijd", "Bestand", "Test of productie", "Records", "Afgewezen",
                   "Geaccepteerd", "Rapport"):  # fmt: skip
        assert f">{header}</th>" in history.text, header
    assert "export.csv" in history.text


def test_a_production_upload_is_stored_and_the_banner_says_so(upload_portal: UploadPortal) -> None:
    portal = upload_portal
    client = portal.signed_in(portal.hospital, "dm@rivierenland.example")
    answer = upload(client, portal.stage1(portal.export(rows=4), mode="production"),
                    mode="production")  # fmt: skip
    upload_id = int(answer.headers["location"].rsplit("/", 1)[1])
    info = portal.uploads.get(upload_id)
    assert info is not None and info.status == "done" and info.stored is not None
    assert info.stages is not None and {"comparison", "import"} <= set(info.stages)
    page = client.get(f"/aanleveringen/{upload_id}/rapport")
    assert page.status_code == 200
    assert "Opgeslagen in de registratie: 4 nieuw" in page.text


def test_a_raw_export_is_refused_and_not_kept(upload_portal: UploadPortal) -> None:
    portal = upload_portal
    client = portal.signed_in(portal.hospital, "dm@rivierenland.example")
    export = portal.export(rows=2)
    raw = export.read_bytes()
    answer = upload(client, export)
    assert answer.status_code == 303
    upload_id = int(answer.headers["location"].rsplit("/", 1)[1])
    info = portal.uploads.get(upload_id)
    assert info is not None and info.status == "done" and info.file_rejected
    page = client.get(f"/aanleveringen/{upload_id}/rapport")
    assert (
        "BF-020" in page.text and "Het bestand is afgewezen. Er is niets opgeslagen." in page.text
    )
    # Nothing of the file is kept: the store is empty, and no file anywhere in the portal's
    # folders holds its content.
    assert not [p for p in (portal.folder / "store").rglob("*") if p.is_file()]
    # Nor is the portal's private temporary folder of the request left behind.
    assert not list(Path(tempfile.gettempdir()).glob("zorgbroker-portaal-*"))
    first_line = raw.splitlines()[1]
    for path in portal.folder.rglob("*"):
        if path.is_file() and path != export and path.suffix != ".zip":
            assert first_line not in path.read_bytes(), path


@pytest.mark.parametrize("kind", RAW_KINDS)
def test_a_raw_export_posted_by_mistake_is_refused_before_anything_is_written(
    upload_portal: UploadPortal, monkeypatch: pytest.MonkeyPatch, kind: str
) -> None:
    portal = upload_portal
    client = portal.signed_in(portal.hospital, "dm@rivierenland.example")
    raw, line = raw_export(portal.folder / "raw", kind)
    with watched_writes(monkeypatch) as written:
        answer = upload(client, raw)
    assert answer.status_code == 303
    # The guard refused it from its first KB: no file was opened for it, nor spooled.
    assert written.opened == [] and written.spooled == 0
    upload_id = int(answer.headers["location"].rsplit("/", 1)[1])
    info = portal.uploads.get(upload_id)
    assert info is not None and info.status == "done" and info.file_rejected
    assert info.file_bytes == raw.stat().st_size
    page = client.get(f"/aanleveringen/{upload_id}/rapport")
    assert "BF-020" in page.text and f"stap1.zip: {RAW_REFUSALS[kind]}" in page.text
    assert not files_holding(line, portal.folder / "store", portal.folder / "mail")


def test_a_stage1_file_is_written_once_the_guard_let_it_in(
    upload_portal: UploadPortal, monkeypatch: pytest.MonkeyPatch
) -> None:
    portal = upload_portal
    client = portal.signed_in(portal.hospital, "dm@rivierenland.example")
    stage1 = portal.stage1(portal.export())
    with watched_writes(monkeypatch) as written:
        answer = upload(client, stage1)
    assert answer.status_code == 303
    assert [p.name for p in written.opened] == ["stap1.zip"] and written.spooled == 0
    info = portal.uploads.get(int(answer.headers["location"].rsplit("/", 1)[1]))
    assert info is not None and not info.file_rejected


def test_bad_posts_get_a_dutch_answer(upload_portal: UploadPortal) -> None:
    portal = upload_portal
    client = portal.signed_in(portal.hospital, "dm@rivierenland.example")
    empty = portal.folder / "leeg.zip"
    empty.write_bytes(b"")
    answer = upload(client, empty)
    assert answer.status_code == 400 and "Het bestand is leeg" in answer.text
    wrong = upload(client, portal.stage1(portal.export()), dataset="bestaat-niet")
    assert wrong.status_code == 400 and "Kies een dataset" in wrong.text
    portal.app.state.max_upload_bytes = 100
    big = upload(client, portal.stage1(portal.export("groot.csv")))
    assert big.status_code == 413
    assert portal.uploads.list() == []


def test_an_upload_without_the_csrf_token_or_from_elsewhere_is_refused(
    upload_portal: UploadPortal,
) -> None:
    portal = upload_portal
    client = portal.signed_in(portal.hospital, "dm@rivierenland.example")
    stage1 = portal.stage1(portal.export())
    with stage1.open("rb") as handle:
        no_token = client.post(
            "/aanleveren",
            data={"dataset": "nhr-pmicd", "mode": "test"},
            files={"bestand": ("stap1.zip", handle, "application/zip")},
            headers={"Origin": ORIGIN},
        )
    assert no_token.status_code == 403
    assert portal.uploads.list() == []


def test_the_streamed_upload_checks_the_token_before_the_file_and_takes_htmxs_header(
    upload_portal: UploadPortal, monkeypatch: pytest.MonkeyPatch
) -> None:
    portal = upload_portal
    client = portal.signed_in(portal.hospital, "dm@rivierenland.example")
    token = csrf(client.get("/aanleveren").text)
    raw, _ = raw_export(portal.folder / "raw", "csv")
    with watched_writes(monkeypatch) as written, raw.open("rb") as handle:
        wrong = client.post(
            "/aanleveren",
            data={"csrf_token": "verkeerd", "dataset": "nhr-pmicd", "mode": "test"},
            files={"bestand": ("stap1.zip", handle, "application/zip")},
            headers={"Origin": ORIGIN},
        )
    assert wrong.status_code == 403 and "Dit formulier is verlopen" in wrong.text
    assert written.opened == [] and portal.uploads.list() == []
    with portal.stage1(portal.export()).open("rb") as handle:
        by_header = client.post(
            "/aanleveren",
            data={"dataset": "nhr-pmicd", "mode": "test"},
            files={"bestand": ("stap1.zip", handle, "application/zip")},
            headers={"Origin": ORIGIN, "X-CSRF-Token": token},
        )
    assert by_header.status_code == 303


def test_only_uploaders_of_an_organisation_with_an_agb_code_may_upload(
    upload_portal: UploadPortal,
) -> None:
    portal = upload_portal
    admin = portal.signed_in(portal.registry_org, "beheer@registratie.example", (REGISTRY_ADMIN,))
    assert admin.get("/aanleveren").status_code == 403
    assert 'href="/aanleveren"' not in admin.get("/aanleveringen").text


def test_the_report_page_filters_groups_pages_and_logs(upload_portal: UploadPortal) -> None:
    portal = upload_portal
    client = portal.signed_in(portal.hospital, "dm@rivierenland.example")
    # An unknown sex code in every record: one message (F) each, more than ten of them.
    rows = serial_rows(25)
    for row in rows:
        row["geslacht"] = "Q"
    rows_file = write_csv(portal.folder / "fout.csv", NHR_HEADER, rows)
    answer = upload(client, portal.stage1(rows_file))
    upload_id = int(answer.headers["location"].rsplit("/", 1)[1])
    base = f"/aanleveringen/{upload_id}/rapport"
    page = client.get(base)
    assert page.status_code == 200, page.text
    html = page.text
    assert "Dit was een testaanlevering. Er is niets opgeslagen." in html
    assert "andere fouten zichtbaar worden" in html
    codes = re.findall(r'<h3 id="kop-([A-Z]+-\d+)">', html)
    assert codes, html
    code = next(c for c in codes if f"Toon alle 25 meldingen met code {c}" in html)
    # Ten per group, then "toon alle".
    group = html.split(f'id="kop-{code}"', 1)[1].split("</section>", 1)[0]
    assert group.count("<tr>") == 1 + 10
    everything = client.get(f"{base}?klasse=&code={code}&veld=")
    assert "pagina 1 van 1" in everything.text and everything.text.count("<tr>") >= 25
    # Filters: a class that does not occur leaves nothing.
    none = client.get(f"{base}?klasse=TW")
    assert "Geen meldingen met dit filter." in none.text
    paged = client.get(f"{base}?code={code}&pagina=999")
    assert "pagina 1 van 1" in paged.text
    # Downloads, each an attachment with our own name.
    xlsx = client.get(f"{base}.xlsx")
    assert xlsx.headers["content-disposition"] == (
        f'attachment; filename="rapport-aanlevering-{upload_id}.xlsx"'
    )
    assert CalamineWorkbook.from_filelike(io.BytesIO(xlsx.content)).sheet_names
    document = client.get(f"{base}.json")
    assert "attachment" in document.headers["content-disposition"]
    assert json.loads(document.content)["summary"]["records"] == 25
    rejected = client.get(f"/aanleveringen/{upload_id}/afgewezen.csv")
    assert "attachment" in rejected.headers["content-disposition"]
    lines = rejected.text.strip().splitlines()
    assert lines[0] == "tabel,record" and len(lines) == 1 + 25
    # Every view and download is in the access log, with who and on whose behalf.
    entries = [e for e in access_log(portal) if e.upload_id == upload_id]
    actions = [e.action for e in entries]
    assert actions.count("rapport-pagina") == 4
    assert {"rapport-xlsx", "rapport-json", "afgewezen-csv"} <= set(actions)
    assert {e.actor for e in entries} == {"dm@rivierenland.example"}
    assert {e.on_behalf_of for e in entries} == {"01234567"}


def test_a_report_that_is_not_there_yet_leads_to_the_progress_page(
    upload_portal: UploadPortal,
) -> None:
    portal = upload_portal
    client = portal.signed_in(portal.hospital, "dm@rivierenland.example")
    upload_id = portal.uploads.receive(
        portal.stage1(portal.export()), dataset="nhr-pmicd", organisation="01234567",
        mode="test", uploaded_by="dm@rivierenland.example",
    )  # fmt: skip
    page = client.get(f"/aanleveringen/{upload_id}")
    assert "in wachtrij" in page.text and 'hx-trigger="every 1s"' in page.text
    answer = client.get(f"/aanleveringen/{upload_id}/rapport")
    assert answer.status_code == 303 and answer.headers["location"] == f"/aanleveringen/{upload_id}"


def test_an_upload_whose_size_is_not_said_is_refused_unread(upload_portal: UploadPortal) -> None:
    portal = upload_portal
    client = portal.signed_in(portal.hospital, "dm@rivierenland.example")
    token = csrf(client.get("/aanleveren").text)

    def chunks() -> Iterator[bytes]:
        yield b'--grens\r\nContent-Disposition: form-data; name="csrf_token"\r\n\r\n'
        yield token.encode() + b"\r\n--grens--\r\n"

    answer = client.post(
        "/aanleveren",
        content=chunks(),
        headers={"Origin": ORIGIN, "Content-Type": "multipart/form-data; boundary=grens"},
    )
    assert answer.status_code == 411 and "grootte" in answer.text
    assert portal.uploads.list() == []


def test_a_report_stored_before_the_parquet_copy_is_read_from_its_json(
    upload_portal: UploadPortal,
) -> None:
    portal = upload_portal
    client = portal.signed_in(portal.hospital, "dm@rivierenland.example")
    rows = serial_rows(12)
    for row in rows:
        row["geslacht"] = "Q"
    answer = upload(client, portal.stage1(write_csv(portal.folder / "oud.csv", NHR_HEADER, rows)))
    upload_id = int(answer.headers["location"].rsplit("/", 1)[1])
    before = client.get(f"/aanleveringen/{upload_id}/rapport").text
    with write_transaction(portal.registry) as conn:
        conn.execute(
            update(UploadReport)
            .where(UploadReport.upload_id == upload_id)
            .values(messages_parquet=None)
        )
    after = client.get(f"/aanleveringen/{upload_id}/rapport").text
    assert "Toon alle 12 meldingen" in after
    assert re.findall(r"<td>[^<]*</td>", after) == re.findall(r"<td>[^<]*</td>", before)


def test_a_missing_script_does_not_sign_the_user_out(upload_portal: UploadPortal) -> None:
    # The start page loads /static/stage1/upload.js; while it is missing, its 404 once rendered
    # an error page, which started an anonymous session whose cookie replaced the user's.
    portal = upload_portal
    client = portal.signed_in(portal.hospital, "dm@rivierenland.example")
    missing = client.get("/static/stage1/bestaat-niet.js")
    assert missing.status_code == 404 and "set-cookie" not in missing.headers
    assert client.get("/aanleveren").status_code == 200


def test_a_failed_upload_says_why_on_its_progress_page_and_is_mailed(
    upload_portal: UploadPortal,
) -> None:
    portal = upload_portal
    client = portal.signed_in(portal.hospital, "dm@rivierenland.example")
    stage1 = portal.stage1(portal.export(rows=3), mode="production")
    restore = make_ttp_unusable(portal.folder)  # the TTP's stage 2 fails
    try:
        answer = upload(client, stage1, mode="production")
    finally:
        restore()
    upload_id = int(answer.headers["location"].rsplit("/", 1)[1])
    page = client.get(f"/aanleveringen/{upload_id}")
    assert "mislukt" in page.text and "Lever het bestand opnieuw aan" in page.text
    assert "Pseudonimisering mislukt" in page.text or "Verwerking mislukt" in page.text
    assert "Traceback" not in page.text
    assert client.get(f"/aanleveringen/{upload_id}/rapport").status_code == 303
    ((mailed, report),) = portal.letters.sent
    assert mailed.status == "failed" and report is None
