"""No token from an invitation or login link in the web server's access log."""

from __future__ import annotations

import logging

from zorgbroker.portal.access_log import RedactTokens, redact


def test_tokens_in_paths_are_hidden() -> None:
    token = "k3Jq9vXo0b8yTzR1u2w4e6r8t0y2u4i6o8p0a2s4d6f"
    record = logging.LogRecord(
        "uvicorn.access",
        logging.INFO,
        __file__,
        1,
        '%s - "%s %s HTTP/%s" %d',
        ("127.0.0.1:5000", "GET", f"/uitnodiging/{token}", "1.1", 200),
        None,
    )
    assert RedactTokens().filter(record)
    line = record.getMessage()
    assert token not in line and "/uitnodiging/[verborgen]" in line
    assert token not in redact(f"POST /aanmelden/token/{token}?x=1 HTTP/1.1")
    assert redact("/mijn-sessies") == "/mijn-sessies"
