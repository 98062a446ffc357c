from __future__ import annotations

from pathlib import Path

from zorgbroker.mail.recipients import is_address, recipients_for
from zorgbroker.settings import Settings


def settings(**values: object) -> Settings:
    return Settings(home=Path("/nonexistent"), **values)  # type: ignore[arg-type]


def test_the_uploader_then_the_organisation_then_the_fallback():
    configured = settings(mail_to="a@x.nl, b@x.nl", mail_to_organisations={"01234567": "org@x.nl"})
    assert recipients_for("me@x.nl", "01234567", configured) == ["me@x.nl"]
    assert recipients_for("jansen", "01234567", configured) == ["org@x.nl"]
    assert recipients_for("jansen", "07654321", configured) == ["a@x.nl", "b@x.nl"]
    assert recipients_for("jansen", "07654321", settings()) == []


def test_login_names_are_not_addresses():
    assert is_address("j.jansen@ziekenhuis.nl")
    for name in ("jansen", "DOMEIN\\jansen", "a@b", "a b@c.nl", ""):
        assert not is_address(name)
