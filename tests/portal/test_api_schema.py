"""Schemathesis against the API's own OpenAPI document (`/api/v1/openapi.json`): whatever it
sends, with a valid token and without one, the server never answers with a 5xx, and every
answer has the documented status. The example count is kept modest (two cores)."""

from __future__ import annotations

import httpx
import schemathesis
from hypothesis import HealthCheck, given, settings

from tests.portal.live_api import LiveApi, live_api

__all__ = ["live_api"]

EXAMPLES = 25


def test_the_document_names_every_path_and_the_bearer_scheme(live_api: LiveApi):
    document = httpx.get(f"{live_api.api}/openapi.json").json()
    assert set(document["paths"]) == {
        "/me",
        "/uploads",
        "/uploads/{upload_id}",
        "/uploads/{upload_id}/report",
        "/uploads/{upload_id}/report.xlsx",
        "/uploads/{upload_id}/rejected.csv",
    }
    assert document["components"]["securitySchemes"]["api-sleutel"]["scheme"] == "bearer"
    upload = document["paths"]["/uploads"]["post"]["requestBody"]["content"]
    assert "multipart/form-data" in upload


def test_no_input_makes_the_server_fail(live_api: LiveApi) -> None:
    # Each operation's strategy driven by Hypothesis here: schemathesis' pytest loader
    # (`from_fixture`) reads a pytest attribute that pytest 9 no longer has.
    schema = schemathesis.openapi.from_url(f"{live_api.api}/openapi.json")
    token = {"Authorization": f"Bearer {live_api.tokens['a']}"}
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) == 7

    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(
            max_examples=EXAMPLES,
            deadline=None,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
        def no_server_error(case: schemathesis.Case) -> None:
            for headers in (token, {}):
                response = case.call(base_url=live_api.api, headers=headers)
                assert response.status_code < 500, (case.method, case.path, response.text)
                if response.status_code >= 400:
                    assert isinstance(response.json()["detail"], str)

        no_server_error()
