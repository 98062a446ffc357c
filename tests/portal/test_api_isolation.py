"""Isolation: a token of organisation A gets 404 for every `/api/v1` path of organisation B's
upload, exactly as for an upload that does not exist. The routes are walked from the mounted API
itself, so a path added later is covered without a change here."""

from __future__ import annotations

from fastapi.routing import APIRoute

from tests.intake.conftest import write_csv
from tests.portal.live_api import TODAY, LiveApi, live_api, wait_done
from tests.registry.conftest import NHR_HEADER, OTHER_AGB, serial_rows
from tests.stage1 import stage1_of
from zorgbroker.portal.api import routes

__all__ = ["live_api"]


def upload_of_b(live: LiveApi) -> int:
    export = write_csv(live.home / "b.csv", NHR_HEADER,
                       [r | {"centrum_agb": OTHER_AGB} for r in serial_rows(2)])  # fmt: skip
    file = stage1_of(
        export, dataset="nhr-pmicd", mode="production", home=live.home / "source-b",
        organisation=OTHER_AGB, today=TODAY, ttp_public_key=live.ttp.seal_public_key(),
    )  # fmt: skip
    with live.client("b") as client, file.open("rb") as handle:
        answer = client.post("/uploads", data={"dataset": "nhr-pmicd", "mode": "production"},
                             files={"file": (file.name, handle)})  # fmt: skip
        assert answer.status_code == 202
        upload_id: int = answer.json()["id"]
        assert wait_done(client, upload_id)["status"] == "done"
    return upload_id


def test_every_path_of_another_organisations_upload_is_404(live_api: LiveApi):
    upload_id = upload_of_b(live_api)
    walked = []
    with (
        live_api.client("a") as a,
        live_api.client("b") as b,
        live_api.client("admin") as admin,
    ):
        for route in routes.router.routes:
            assert isinstance(route, APIRoute)
            for method in route.methods:
                if "{upload_id}" not in route.path:
                    continue
                path = route.path.replace("{upload_id}", str(upload_id))
                missing = route.path.replace("{upload_id}", str(upload_id + 1000))
                # The owner and the registry's administrator reach it: the id is real.
                assert b.request(method, path).status_code == 200, path
                assert admin.request(method, path).status_code == 200, path
                refused = a.request(method, path)
                assert refused.status_code == 404, (method, path)
                # Exactly the answer for an upload that does not exist: nothing to probe.
                unknown = a.request(method, missing).json()["detail"]
                assert refused.json()["detail"] == unknown.replace(
                    str(upload_id + 1000), str(upload_id)
                )
                walked.append((method, route.path))
        # The history of A does not hold B's upload; A's own submit is filed under A.
        assert upload_id not in [u["id"] for u in a.get("/uploads").json()["items"]]
        assert upload_id in [u["id"] for u in b.get("/uploads").json()["items"]]
    assert {p for _, p in walked} >= {
        "/uploads/{upload_id}",
        "/uploads/{upload_id}/report",
        "/uploads/{upload_id}/report.xlsx",
        "/uploads/{upload_id}/rejected.csv",
    }
    # A's refused looks left nothing in the access log; B's and the administrator's views did.
    actors = {e.actor for e in live_api.access_log.for_upload(upload_id) if e.action != "import"}
    assert actors == {"b@example.nl", "admin@example.nl"}
