"""The demo's data manager uploads at once: the portal as `zorgbroker demo` builds it (SQLite under
ZORGBROKER_HOME, jobs in the portal's process, mail to the local mailbox folder), its users made
by the demo's set-up, test and production uploads (the demo's own files among them) processed
and mailed to the uploader.
Privacy: nothing the registry side wrote (its database, the upload store, the mailbox) holds a
BSN or a name of the input."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import polars as pl
from fastapi.testclient import TestClient

from tests.intake.conftest import write_csv
from tests.portal.conftest import csrf
from tests.portal.uploads_support import post, upload
from tests.registry.conftest import NHR_HEADER, serial_rows
from tests.stage1 import stage1_of
from zorgbroker.composition import account_services, portal_app
from zorgbroker.platform.demo import (
    DEMO_USERS,
    HOSPITAL_AGB,
    KeptInvitations,
    demo_files,
    set_up,
)
from zorgbroker.settings import Settings

URL = "https://testserver"


def test_the_demo_data_manager_uploads_and_is_mailed(tmp_path: Path) -> None:
    settings = Settings(home=tmp_path / "home", database_url=None, jobs="inline", smtp_host=None)  # type: ignore[call-arg]
    invitations = KeptInvitations()
    set_up(account_services(settings, URL, mailer=invitations).accounts, invitations)
    app = portal_app(settings, account_services(settings, URL), origin=URL, demo=True)
    manager = next(u for u in DEMO_USERS if "datamanager" in u.email)
    client = TestClient(app, base_url=URL, follow_redirects=False)
    page = client.get("/aanmelden")
    answer = post(client, "/aanmelden", page.text, email=manager.email, password=manager.password)
    assert answer.status_code == 303 and answer.headers["location"] == "/"
    assert 'href="/aanleveren"' in client.get("/").text

    rows = serial_rows(4)
    export = write_csv(tmp_path / "export.csv", NHR_HEADER, rows)
    csv_file, xlsx_file = demo_files(settings.home)
    for file, mode in ((export, "test"), (export, "production"), (csv_file, "test"),
                       (xlsx_file, "production")):  # fmt: skip
        stage1 = stage1_of(
            file,
            dataset="nhr-pmicd",
            mode=mode,
            home=settings.home,
            organisation=HOSPITAL_AGB,
            today=dt.date.today(),
        )
        answer = upload(client, stage1, mode=mode)
        assert answer.status_code == 303, answer.text
        progress = client.get(answer.headers["location"])
        assert "verwerkt" in progress.text, progress.text
        stage1.unlink()
    history = client.get("/aanleveringen").text
    assert history.count("export.csv") == 2
    assert "demo-nhr-pmicd.csv" in history and "demo-nhr-pmicd.xlsx" in history
    (demo_upload, *_) = (u for u in app.state.uploads.list() if u.file_name == csv_file.name)
    assert demo_upload.records == 2_000 and 0 < demo_upload.rejected < 200
    mailbox = client.get("/demo/mailbox").text
    assert manager.email in mailbox and csrf(mailbox)

    # Nothing on the registry's side holds a BSN or a name from the export.
    identifiers = {row["bsn"] for row in rows} | {row["achternaam"] for row in rows}
    demo = pl.read_csv(csv_file, separator=";", infer_schema=False)
    identifiers |= {v for v in demo["bsn"].to_list() if v and len(v) >= 8}
    identifiers |= {v for v in demo["achternaam"].to_list() if v and len(v) >= 6}
    # The demo's users share a surname with a synthetic patient or two; their accounts are
    # in the same SQLite file.
    identifiers = {i for i in identifiers if not any(i in user.name for user in DEMO_USERS)}
    # The TTP's folder and the demo's own export files are the source's side, not the registry's.
    source_side = ("ttp", "demo-bestanden")
    written = [p for p in settings.home.rglob("*")
               if p.is_file() and not set(source_side) & set(p.parts)]  # fmt: skip
    assert written
    for path in written:
        content = path.read_bytes()
        for identifier in identifiers:
            assert identifier.encode() not in content, (path, identifier)
