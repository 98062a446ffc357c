"""The API for machines (`/api/v1`) over real HTTP: a token, a stage-1 file, its status, its
report in three forms; refusals; and what crossed the wire."""

from __future__ import annotations

import io
import json
import tempfile
import time
from pathlib import Path

import httpx
import pytest
from python_calamine import CalamineWorkbook
from sqlalchemy import func, select

from tests.intake.conftest import write_csv
from tests.portal.live_api import SYSTEM, TODAY, LiveApi, live_api, wait_done
from tests.portal.raw_uploads import (
    RAW_KINDS,
    RAW_REFUSALS,
    files_holding,
    raw_export,
    watched_writes,
)
from tests.registry.conftest import AGB, NHR_HEADER, serial_rows
from tests.stage1 import stage1_of
from tests.wire import opened
from zorgbroker.registry.models import AccessLogEntry, Upload

__all__ = ["live_api"]


def export(folder: Path, rows: list[dict[str, str]]) -> Path:
    return write_csv(folder / "export.csv", NHR_HEADER, rows)


def stage1(live: LiveApi, rows: list[dict[str, str]], mode: str = "production") -> Path:
    return stage1_of(
        export(live.home, rows), dataset="nhr-pmicd", mode=mode, home=live.home / "source",
        organisation=AGB, today=TODAY, ttp_public_key=live.ttp.seal_public_key(),
    )  # fmt: skip


def post(client: httpx.Client, file: Path, *, dataset: str = "nhr-pmicd", mode: str = "production"):
    with file.open("rb") as handle:
        return client.post(
            "/uploads",
            data={"dataset": dataset, "mode": mode},
            files={"file": (file.name, handle, "application/zip")},
        )


def rows_with_one_rejected() -> list[dict[str, str]]:
    rows = serial_rows(3)
    rows[1]["device_type"] = "XX-YY"  # not in the code list: F, this record is rejected
    return rows


def test_a_stage1_file_goes_from_submit_to_report(live_api: LiveApi):
    rows = rows_with_one_rejected()
    file = stage1(live_api, rows)
    with live_api.client("a") as client:
        answer = post(client, file)
        assert answer.status_code == 202
        accepted = answer.json()
        assert answer.headers["location"] == accepted["status_url"]
        assert accepted["status_url"] == f"/api/v1/uploads/{accepted['id']}"

        status = wait_done(client, accepted["id"])
        assert status["status"] == "done", status["error"]
        assert (status["records"], status["accepted"], status["rejected"]) == (3, 2, 1)
        assert status["stored"] == {"new": 2, "updated": 0, "unchanged": 0}
        assert status["organisation"] == AGB
        # The stages the processing went through, as the progress page shows them.
        assert status["stage"] == "done"
        assert list(status["stages"]) == [
            "structure", "pseudonymisation", "validation", "comparison", "import"
        ]  # fmt: skip
        assert status["stages"]["import"]["rows"] == 2

        report = client.get(status["links"]["report"].removeprefix("/api/v1"))
        assert report.status_code == 200
        assert "filename=" in report.headers["content-disposition"]
        document = report.json()
        assert document["summary"]["records"] == 3
        assert document["summary"]["rejected"] == 1
        assert document["summary"]["stored"]["new"] == 2

        workbook = client.get(f"/uploads/{accepted['id']}/report.xlsx")
        assert workbook.status_code == 200
        assert workbook.headers["content-disposition"].startswith("attachment;")
        sheets = CalamineWorkbook.from_filelike(io.BytesIO(workbook.content)).sheet_names
        assert sheets[:2] == ["Samenvatting", "Meldingen"]

        rejected = client.get(f"/uploads/{accepted['id']}/rejected.csv")
        assert rejected.status_code == 200
        assert rejected.headers["content-disposition"].startswith("attachment;")
        lines = rejected.content.decode("utf-8-sig").splitlines()
        assert lines[0].split(";")[:4] == ["table", "record", "field", "code"]
        assert len(lines) == 2 and ";device_type;" in lines[1]

    # Each view of the report was written to the NEN 7513 access log, with who and for whom.
    views = [e for e in live_api.access_log.for_upload(accepted["id"]) if e.action != "import"]
    assert [e.action for e in views] == ["rapport-json", "rapport-xlsx", "afgewezen-csv"]
    assert {(e.actor, e.on_behalf_of) for e in views} == {("a@example.nl", AGB)}
    # The stage-1 file was removed from the upload store once processed (just after the
    # upload was marked done).
    deadline = time.monotonic() + 10
    while live_api.stored_files() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert live_api.stored_files() == []


def test_the_history_lists_only_the_tokens_organisation_newest_first_in_pages(live_api: LiveApi):
    file = stage1(live_api, serial_rows(1), mode="test")
    with live_api.client("a") as a, live_api.client("b") as b:
        ids = [post(a, file, mode="test").json()["id"] for _ in range(3)]
        for upload_id in ids:
            wait_done(a, upload_id)
        first = a.get("/uploads", params={"limit": 2}).json()
        assert [u["id"] for u in first["items"]] == ids[::-1][:2]
        assert first["next"] == "/api/v1/uploads?limit=2&offset=2"
        second = a.get(first["next"].removeprefix("/api/v1")).json()
        assert [u["id"] for u in second["items"]] == ids[:1]
        assert second["next"] is None
        assert b.get("/uploads").json()["items"] == []
    with live_api.client("admin") as admin:
        assert {u["id"] for u in admin.get("/uploads").json()["items"]} == set(ids)


def test_a_raw_export_is_refused_with_bf020_and_not_kept(live_api: LiveApi, tmp_path: Path):
    raw = export(tmp_path, serial_rows(2))
    with live_api.client("a") as client:
        answer = post(client, raw)
        assert answer.status_code == 202
        status = wait_done(client, answer.json()["id"])
        assert status["status"] == "done"
        assert status["file_rejected"] is True
        codes = {
            m["code"] for m in client.get(f"/uploads/{status['id']}/report").json()["messages"]
        }
        assert "BF-020" in codes
    # Nothing of the file in the upload store, nor in the private folders of arriving files.
    assert live_api.stored_files() == []
    assert not list(Path(tempfile.gettempdir()).glob("zorgbroker-api-*"))
    with live_api.registry.connect() as conn:
        assert (
            conn.execute(select(Upload.stored_file).where(Upload.id == status["id"])).scalar()
            is None
        )


@pytest.mark.parametrize("kind", RAW_KINDS)
def test_a_raw_export_is_refused_before_anything_of_it_is_written(
    live_api: LiveApi, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, kind: str
):
    raw, line = raw_export(tmp_path / "raw", kind)
    with watched_writes(monkeypatch) as written, live_api.client("a") as client:
        answer = post(client, raw)
        assert answer.status_code == 202
        # Refused from its first KB by the guard: no file was ever opened for it.
        assert written.opened == [] and written.spooled == 0
        status = wait_done(client, answer.json()["id"])
        assert status["status"] == "done" and status["file_rejected"] is True
        messages = client.get(f"/uploads/{status['id']}/report").json()["messages"]
        assert [m["code"] for m in messages] == ["BF-020"]
        assert f"{raw.name}: {RAW_REFUSALS[kind]}" in json.dumps(messages, ensure_ascii=False)
        # A stage-1 file through the same watch is written, once the guard let it in.
        answer = post(client, stage1(live_api, serial_rows(2)))
        assert answer.status_code == 202 and len(written.opened) == 1
    # Only the source's own exports hold the row; nothing of the registry side does.
    assert {p.name for p in files_holding(line, live_api.home)} == {"export.csv"}
    with live_api.registry.connect() as conn:
        size = conn.execute(select(Upload.file_bytes).where(Upload.id == status["id"])).scalar()
    assert size == raw.stat().st_size


@pytest.mark.parametrize(
    ("header", "error"),
    [
        (None, "invalid_request"),
        ("Bearer zbt_000000000000_verkeerd", "invalid_token"),
        ("Bearer iets-anders", "invalid_token"),
        ("Basic YTpi", "invalid_request"),
    ],
)
def test_without_a_valid_token_the_answer_is_401_with_a_challenge(
    live_api: LiveApi, header: str | None, error: str
):
    headers = {"Authorization": header} if header else {}
    answer = httpx.get(f"{live_api.api}/uploads", headers=headers)
    assert answer.status_code == 401
    assert answer.headers["www-authenticate"].startswith("Bearer ")
    assert f'error="{error}"' in answer.headers["www-authenticate"]
    assert "API-sleutel" in answer.json()["detail"]
    assert "set-cookie" not in answer.headers


def test_a_revoked_token_is_refused_at_once(live_api: LiveApi):
    with live_api.client("a") as client:
        assert client.get("/me").status_code == 200
        token_id = client.get("/me").json()["token"]
        live_api.services.api_tokens.revoke(live_api.users["a"], token_id, SYSTEM)
        assert client.get("/me").status_code == 401


def test_errors_are_dutch_json_naming_the_field(live_api: LiveApi, tmp_path: Path):
    file = stage1(live_api, serial_rows(1))
    with live_api.client("a") as client:
        unknown = post(client, file, dataset="geen-dataset")
        assert unknown.status_code == 422
        assert "geen-dataset" in unknown.json()["detail"]
        wrong_mode = post(client, file, mode="echt")
        assert wrong_mode.status_code == 422
        assert "'mode'" in wrong_mode.json()["detail"]
        no_file = client.post("/uploads", data={"dataset": "nhr-pmicd", "mode": "test"},
                              files={"x": ("a", b"b")})  # fmt: skip
        assert no_file.status_code == 422
        assert "'file'" in no_file.json()["detail"]
        not_multipart = client.post("/uploads", content=b"{}",
                                    headers={"content-type": "application/json"})  # fmt: skip
        assert not_multipart.status_code == 415
        bad_limit = client.get("/uploads", params={"limit": 0})
        assert bad_limit.status_code == 422
        assert "'limit'" in bad_limit.json()["detail"]
        missing = client.get("/uploads/999999")
        assert missing.status_code == 404
        assert missing.json() == {"detail": "Aanlevering 999999 bestaat niet."}


def test_a_file_over_the_size_limit_is_refused_while_it_streams(live_api: LiveApi, tmp_path: Path):
    big = tmp_path / "groot.zip"
    big.write_bytes(b"PK" + b"0" * 10_000)
    live_api.api_state().max_upload_bytes = 1024
    with live_api.client("a") as client:
        answer = post(client, big)
    assert answer.status_code == 413
    assert "1.024 bytes" in answer.json()["detail"]
    assert live_api.stored_files() == []
    assert not list(Path(tempfile.gettempdir()).glob("zorgbroker-api-*"))
    with live_api.registry.connect() as conn:
        assert conn.execute(select(func.count()).select_from(Upload)).scalar() == 0


def test_report_of_an_unfinished_upload_is_409(live_api: LiveApi):
    file = stage1(live_api, serial_rows(1), mode="test")
    upload_id = live_api.uploads.receive(
        file, dataset="nhr-pmicd", organisation=AGB, mode="test", uploaded_by="a@example.nl"
    )
    with live_api.client("a") as client:
        answer = client.get(f"/uploads/{upload_id}/report")
    assert answer.status_code == 409
    assert "wachtrij" in answer.json()["detail"]
    with live_api.registry.connect() as conn:
        views = conn.execute(
            select(func.count())
            .select_from(AccessLogEntry)
            .where(AccessLogEntry.upload_id == upload_id)
        ).scalar()
    assert views == 0


def test_nothing_identifying_crossed_the_wire(live_api: LiveApi):
    rows = serial_rows(3)
    file = stage1(live_api, rows)
    with live_api.client("a") as client:
        wait_done(client, post(client, file).json()["id"])
    received = opened(b"".join(live_api.bodies))
    assert len(received) > file.stat().st_size
    # The stage-1 file's tables are in what is searched, unpacked: the search can find things.
    assert b"zb_bronbevindingen" in received
    for row in rows:
        for value in (row["bsn"], row["achternaam"], row["geboortedatum"]):
            assert value.encode() not in received, value
    assert json.dumps(rows[0]["bsn"]).encode() not in received


def test_a_queue_that_cannot_be_reached_is_a_503_naming_the_upload(live_api: LiveApi):
    file = stage1(live_api, serial_rows(1))
    live_api.queue.down = True
    with live_api.client("a") as client:
        answer = post(client, file)
        assert answer.status_code == 503
        detail = answer.json()["detail"]
        assert "wachtrij" in detail
        [upload] = live_api.uploads.list()
        assert f"Aanlevering {upload.id} " in detail
        assert client.get(f"/uploads/{upload.id}").json()["status"] == "queued"
