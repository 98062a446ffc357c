"""Isolation: a user of organisation A gets "Niet gevonden" (404) for every route that names an
upload of organisation B: pages, fragments, downloads, and the API's paths when it is mounted.

The walker enumerates the app's routes (mounted sub-applications included), so a route added
later is covered without touching this test. A path parameter that names an upload (its name
says upload or id, on a path of uploads) is filled with B's upload id; routes without one are
left out, since they show nothing of an upload by its number.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from starlette.routing import Mount, Route

from tests.portal.conftest import ORIGIN, SYSTEM, csrf
from tests.portal.uploads_support import REGISTRY_ADMIN, UploadPortal, upload, upload_portal
from tests.registry.conftest import OTHER_AGB

__all__ = ["upload_portal"]

PARAM = re.compile(r"{([^}:]+)(?::[^}]+)?}")
UPLOAD_PATHS = ("aanlevering", "upload")


def walk(routes: list[Any], prefix: str = "") -> Iterator[tuple[str, set[str]]]:
    """(path, methods) of every route, through mounts and included routers."""
    for route in routes:
        included = getattr(route, "original_router", None)
        if included is not None:  # FastAPI's included router (kept lazily since 0.16x)
            context = getattr(route, "include_context", None)
            yield from walk(list(included.routes), prefix + str(getattr(context, "prefix", "")))
        elif isinstance(route, Mount):
            inner = getattr(route.app, "routes", None) or getattr(route, "routes", None) or []
            yield from walk(list(inner), prefix + route.path)
        elif isinstance(route, Route) or hasattr(route, "methods"):
            yield prefix + route.path, set(getattr(route, "methods", None) or {"GET"})


def names_an_upload(path: str) -> bool:
    params = PARAM.findall(path)
    return any(word in path for word in UPLOAD_PATHS) and any(
        "upload" in p or p == "id" or p.endswith("_id") for p in params
    )


def filled(path: str, upload_id: int) -> str:
    def value(match: re.Match[str]) -> str:
        name = match.group(1)
        return str(upload_id) if ("upload" in name or name.endswith("id")) else "x"

    return PARAM.sub(value, path)


def api_headers(portal: UploadPortal, email: str) -> dict[str, str]:
    """A bearer token of the user for the API's paths, when the accounts services issue them
    (branch api); else none (and the API is not mounted either)."""
    tokens = getattr(portal.services, "api_tokens", None)
    if tokens is None:
        return {}
    user_id = portal.services.accounts.find_user(email)
    secret = tokens.create(user_id, "isolatietest", SYSTEM).secret
    return {"Authorization": f"Bearer {secret}"}


def test_a_user_of_a_gets_404_for_every_route_of_bs_upload(upload_portal: UploadPortal) -> None:
    portal = upload_portal
    b = portal.signed_in(portal.other, "dm@elders.example")
    stage1 = portal.stage1(portal.export(rows=3), agb=OTHER_AGB)
    answer = upload(b, stage1)
    b_upload = int(answer.headers["location"].rsplit("/", 1)[1])
    assert b.get(f"/aanleveringen/{b_upload}/rapport").status_code == 200  # B sees it

    a = portal.signed_in(portal.hospital, "dm@rivierenland.example")
    token = csrf(a.get("/aanleveren").text)
    headers = api_headers(portal, "dm@rivierenland.example")
    checked = []
    for path, methods in walk(list(portal.app.routes)):
        if not names_an_upload(path):
            continue
        url = filled(path, b_upload)
        for method in sorted(methods - {"HEAD", "OPTIONS"}):
            extra = headers if url.startswith("/api/") else {}
            if method == "GET":
                answer = a.get(url, headers=extra)
            else:
                answer = a.request(
                    method, url, data={"csrf_token": token}, headers={"Origin": ORIGIN, **extra}
                )
            assert answer.status_code == 404, (method, url, answer.status_code)
            assert "export.csv" not in answer.text
            checked.append((method, path))
    # The walk found the upload pages (a walker that finds nothing proves nothing).
    paths = {p for _, p in checked}
    for tail in ("", "/voortgang", "/rapport", "/rapport.xlsx", "/rapport.json", "/afgewezen.csv"):
        assert "/aanleveringen/{upload_id}" + tail in paths
    # Nor does B's upload show in A's history; nothing was written to the access log for A.
    assert "export.csv" not in a.get("/aanleveringen").text
    assert "export.csv" not in a.get(f"/aanleveringen?organisatie={OTHER_AGB}").text


def test_an_unknown_upload_is_404_too_and_a_registry_admin_sees_all(
    upload_portal: UploadPortal,
) -> None:
    portal = upload_portal
    b = portal.signed_in(portal.other, "dm@elders.example")
    b_upload = int(upload(b, portal.stage1(portal.export(), agb=OTHER_AGB)).headers["location"]
                   .rsplit("/", 1)[1])  # fmt: skip
    assert b.get("/aanleveringen/99999").status_code == 404
    assert b.get("/aanleveringen/99999/rapport").status_code == 404
    admin = portal.signed_in(portal.registry_org, "beheer@registratie.example", (REGISTRY_ADMIN,))
    assert admin.get(f"/aanleveringen/{b_upload}/rapport").status_code == 200
    history = admin.get(f"/aanleveringen?organisatie={OTHER_AGB}")
    assert "export.csv" in history.text and ">Organisatie</th>" in history.text
    assert "export.csv" not in admin.get("/aanleveringen?organisatie=01234567").text
