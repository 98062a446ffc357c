"""`zorgbroker submit FILE --portal URL`: the stage-1 file made at the source, sent to a real
portal's API over loopback with a token, the report fetched back; and each way it can fail."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from tests.intake.conftest import write_csv
from tests.portal.live_api import LiveApi, free_port, live_api
from tests.registry.conftest import AGB, NHR_HEADER, OTHER_AGB, serial_rows
from zorgbroker.cli import app
from zorgbroker.settings import get_settings

__all__ = ["live_api"]


@pytest.fixture
def source(live_api: LiveApi, monkeypatch: pytest.MonkeyPatch) -> Iterator[LiveApi]:
    """The command runs with the test's home: its embedded TTP folder is the portal's TTP, so
    the BSNs sealed at the source can be opened at the registry's stage 2."""
    live_api.ttp.seal_public_key()
    monkeypatch.setenv("ZORGBROKER_HOME", str(live_api.home))
    for name in ("ZORGBROKER_TTP_URL", "ZORGBROKER_DATABASE_URL", "ZORGBROKER_API_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    get_settings(fresh=True)
    yield live_api
    get_settings(fresh=True)


def run(*args: str, env: dict[str, str] | None = None) -> tuple[int, str, str]:
    result = CliRunner().invoke(app, list(args), env=env)
    return result.exit_code, result.stdout, result.stderr


def token_file(live: LiveApi, who: str = "a") -> Path:
    path = live.home / f"sleutel-{who}"
    path.write_text(live.tokens[who] + "\n")
    path.chmod(0o600)
    return path


def submit(live: LiveApi, export: Path, *extra: str, env: dict[str, str] | None = None):
    return run("submit", str(export), "--dataset", "nhr-pmicd", "--mode", "production",
               "--portal", live.url, "--peildatum", "2026-11-22", *extra, env=env)  # fmt: skip


def an_export(live: LiveApi, rows: int = 3) -> Path:
    records = serial_rows(rows)
    records[0]["device_type"] = "XX-YY"  # rejected: F
    return write_csv(live.home / "export.csv", NHR_HEADER, records)


def test_submit_to_the_portal_ends_with_the_report(source: LiveApi):
    code, out, err = submit(source, an_export(source), "--token-file", str(token_file(source)),
                            "--format", "json")  # fmt: skip

    assert code == 0, err
    document = json.loads(out)
    assert (document["summary"]["records"], document["summary"]["rejected"]) == (3, 1)
    assert document["summary"]["stored"] == {"new": 2, "updated": 0, "unchanged": 0}
    assert "verwerkt" in err
    [upload] = source.uploads.list()
    assert (upload.organisation, upload.status, upload.uploaded_by) == (AGB, "done", "a@example.nl")
    # The source kept nothing: no registry of its own, no stage-1 file left in its home.
    assert not (source.home / "registry.sqlite3").exists()
    assert not list(source.home.glob("**/stap1.zip"))


def test_the_token_may_come_from_the_environment(source: LiveApi):
    code, _, err = submit(source, an_export(source),
                          env={"ZORGBROKER_API_TOKEN": source.tokens["a"]})  # fmt: skip

    assert code == 0, err
    assert "Aanlevering" in err


def test_a_wrong_token_is_a_usage_error_in_dutch(source: LiveApi):
    bad = source.home / "fout"
    bad.write_text("zbt_000000000000_niet-goed")

    code, _, err = submit(source, an_export(source), "--token-file", str(bad))

    assert code == 2
    assert "weigert de API-sleutel" in err
    assert source.uploads.list() == []


def test_without_a_token_nothing_is_sent(source: LiveApi):
    code, _, err = submit(source, an_export(source))

    assert code == 2
    assert "ZORGBROKER_API_TOKEN" in err
    assert source.uploads.list() == []


def test_an_unreachable_portal_exits_3(source: LiveApi):
    nowhere = f"http://127.0.0.1:{free_port()}"
    code, _, err = run("submit", str(an_export(source)), "--dataset", "nhr-pmicd",
                       "--mode", "test", "--portal", nowhere,
                       "--token-file", str(token_file(source)))  # fmt: skip

    assert code == 3
    assert "niet bereikbaar" in err and nowhere in err


def test_another_organisation_than_the_tokens_is_refused(source: LiveApi):
    code, _, err = submit(source, an_export(source), "--token-file", str(token_file(source)),
                          "--organisation", OTHER_AGB)  # fmt: skip

    assert code == 2
    assert AGB in err and OTHER_AGB in err
    assert source.uploads.list() == []


def test_a_file_the_registry_rejects_exits_1_with_its_bf_code(source: LiveApi):
    export = write_csv(
        source.home / "kapot.csv", ["kolom_a", "kolom_b"], [{"kolom_a": "1", "kolom_b": "2"}]
    )

    code, out, err = submit(source, export, "--token-file", str(token_file(source)),
                            "--format", "json")  # fmt: skip

    assert code == 1, err
    document = json.loads(out)
    assert document["summary"]["file_rejected"] is True
    assert any(m["code"].startswith("BF-") for m in document["messages"])


def test_the_client_waits_as_the_portal_asks_after_too_many_requests():
    import httpx

    from zorgbroker.uploads.portal_client import PortalClient, PortalError

    answers = [
        httpx.Response(429, headers={"Retry-After": "7"}, json={"detail": "Te veel verzoeken"}),
        httpx.Response(200, json={"id": 4, "status": "done"}),
    ]
    slept: list[float] = []
    transport = httpx.MockTransport(lambda request: answers.pop(0))
    with PortalClient("https://portaal.example", "zbt_x_y", transport=transport,
                      sleep=slept.append) as client:  # fmt: skip
        assert client.status(4)["status"] == "done"
    assert slept == [7.0]

    always = httpx.MockTransport(
        lambda request: httpx.Response(
            429, headers={"Retry-After": "1"}, json={"detail": "Te veel"}
        )
    )
    with (
        PortalClient("https://portaal.example", "zbt_x_y", transport=always,
                     sleep=slept.append) as client,
        pytest.raises(PortalError, match="HTTP 429"),
    ):  # fmt: skip
        client.status(4)


def test_the_api_answers_429_past_a_tokens_limit(source: LiveApi):
    import httpx

    with httpx.Client(base_url=source.api, headers={
            "Authorization": f"Bearer {source.tokens['a']}"}) as client:  # fmt: skip
        token_id = str(client.get("/me").json()["token"])
        while source.services.limiter.hit("api-token", token_id):
            pass
        refused = client.get("/uploads")
    assert refused.status_code == 429
    assert refused.headers["retry-after"] == "60"
    assert "Te veel verzoeken" in refused.json()["detail"]
