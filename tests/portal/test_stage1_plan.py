"""GET /aanleveren/plan/{dataset}.json: the plan the upload page's JavaScript makes the stage-1
file from (docs/pseudonymisation.md 8.7), for signed-in users only."""

from __future__ import annotations

from pathlib import Path

from tests.portal.conftest import Portal
from tests.portal.test_story import set_up_account


def test_a_signed_in_user_gets_the_plan_with_the_ttps_sealing_key(portal: Portal) -> None:
    portal.app.state.seal_public_key = lambda: b"\x07" * 32  # type: ignore[attr-defined]
    client = portal.client()
    set_up_account(portal, client)
    answer = client.get("/aanleveren/plan/nhr-pmicd.json")
    assert answer.status_code == 200
    assert answer.headers["cache-control"] == "no-store"
    plan = answer.json()
    assert (plan["dataset"], plan["registry"], plan["method"]) == ("nhr-pmicd", "nhr", "zb2")
    assert plan["ttp_public_key"] == "BwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwc="
    # A registry that is not re-identifiable gets no key: nothing is sealed for it.
    nivel = client.get("/aanleveren/plan/nivel-fysio.json").json()
    assert nivel["ttp_public_key"] is None
    assert [t["name"] for t in nivel["tables"]][:2] == ["praktijk", "therapeuten"]


def test_an_unreachable_ttp_leaves_the_key_out(portal: Portal) -> None:
    def unreachable() -> bytes:
        raise OSError("TTP niet bereikbaar")

    portal.app.state.seal_public_key = unreachable  # type: ignore[attr-defined]
    client = portal.client()
    set_up_account(portal, client)
    answer = client.get("/aanleveren/plan/nhr-pmicd.json")
    assert answer.status_code == 200 and answer.json()["ttp_public_key"] is None


def test_an_unknown_dataset_is_not_found(portal: Portal) -> None:
    client = portal.client()
    set_up_account(portal, client)
    assert client.get("/aanleveren/plan/onbekend.json").status_code == 404
    assert client.get("/aanleveren/plan/..%2Fgeneric.json").status_code == 404


def test_without_signing_in_there_is_no_plan(portal: Portal) -> None:
    answer = portal.client().get("/aanleveren/plan/nhr-pmicd.json")
    assert answer.status_code == 303 and answer.headers["location"] == "/aanmelden"


def test_the_browsers_modules_are_served_as_javascript(portal: Portal) -> None:
    # nosniff is on every answer: a module served under another type would not run.
    client = portal.client()
    for path in [
        "/static/stage1/stage1.js",
        "/static/stage1/upload.js",
        "/static/stage1/zip_worker.js",
        "/static/vendor/fflate/browser.js",
        "/static/vendor/noble-ciphers/aes.js",
        "/static/vendor/noble-hashes/sha2.js",
    ]:
        answer = client.get(path)
        assert answer.status_code == 200, path
        assert answer.headers["content-type"].startswith("text/javascript"), path
        assert answer.headers["x-content-type-options"] == "nosniff"


def test_the_plans_sealing_key_is_the_ttp_service_the_settings_name(tmp_path: Path) -> None:
    """The demo runs its TTP as a process of its own: the plan carries that TTP's key, and
    nothing is made under the portal's own home."""
    from pydantic import SecretStr

    from zorgbroker.composition import seal_public_key_source
    from zorgbroker.pseudonymisation.service import serving
    from zorgbroker.pseudonymisation.ttp import TrustedThirdParty
    from zorgbroker.settings import get_settings

    ttp_home = tmp_path / "ttp-process"
    token = TrustedThirdParty(ttp_home).add_source("01234567")
    with serving(ttp_home) as url:
        settings = get_settings().model_copy(
            update={"home": tmp_path / "home", "ttp_url": url, "ttp_token": SecretStr(token)}
        )
        key = seal_public_key_source(settings)()
    assert key == TrustedThirdParty(ttp_home).seal_public_key()
    assert not (tmp_path / "home" / "ttp").exists()
