"""The TTP's own page where a source user sets their TTP password, in Debian's Chromium: the
Dutch form works under the page's strict CSP, a weak password is explained, a good one is taken,
and the link then no longer works."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect

from zorgbroker.pseudonymisation.enrolment import SourceKeyCustody
from zorgbroker.pseudonymisation.keywrap import WrappedKey, unwrap_key
from zorgbroker.pseudonymisation.service import serving
from zorgbroker.pseudonymisation.ttp import TrustedThirdParty

EMAIL = "datamanager@rivierenland.example.nl"


class Kept:
    def __init__(self) -> None:
        self.bodies: list[str] = []

    def send(self, to: str, subject: str, body: str) -> None:
        self.bodies.append(body)


@pytest.fixture
def link_and_custody(tmp_path: Path) -> Iterator[tuple[str, SourceKeyCustody]]:
    home = tmp_path / "ttp"
    custody = SourceKeyCustody(TrustedThirdParty(home))
    with serving(home) as url:
        mail = Kept()
        custody.enrol(EMAIL, "01234567", "nhr", base_url=url, mailer=mail)
        link = next(w for w in mail.bodies[-1].split() if "/wachtwoord/" in w)
        yield link, custody


def test_setting_the_ttp_password_in_the_browser(
    browser: Any, link_and_custody: tuple[str, SourceKeyCustody]
) -> None:
    link, custody = link_and_custody
    context = browser.new_context()
    page = context.new_page()
    page.goto(link)
    expect(page.get_by_role("heading", name="TTP-wachtwoord instellen")).to_be_visible()
    expect(page.get_by_text(EMAIL)).to_be_visible()
    page.get_by_label("Nieuw TTP-wachtwoord").fill("Rivierenland2026!")
    page.get_by_label("Nog een keer").fill("Rivierenland2026!")
    page.get_by_role("button", name="TTP-wachtwoord instellen").click()
    expect(page.get_by_role("alert")).to_contain_text("te makkelijk te raden")

    chosen = "Vuurtoren pelikaan mosterd hangmat"
    page.get_by_label("Nieuw TTP-wachtwoord").fill(chosen)
    page.get_by_label("Nog een keer").fill(chosen)
    page.get_by_role("button", name="TTP-wachtwoord instellen").click()
    expect(page.get_by_role("heading", name="TTP-wachtwoord ingesteld")).to_be_visible()

    page.goto(link)
    expect(page.get_by_text("Deze link is verlopen of al gebruikt")).to_be_visible()
    context.close()
    blob = custody.wrapped_key(EMAIL, "01234567", "nhr", asked_by="test")
    assert blob is not None
    assert unwrap_key(WrappedKey.from_json(blob.to_json()), chosen) == custody.project_key("nhr")
