"""Log lines stay off the terminal unless asked for: the user reads the Dutch messages only."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.cli.conftest import zorgbroker


@pytest.fixture
def waiting_mail(tmp_path: Path) -> dict[str, str]:
    """A home with one message in the outbox, and an SMTP server that refuses connections."""
    home = tmp_path / "home"
    outbox = home / "mail" / "outbox"
    outbox.mkdir(parents=True)
    (outbox / "0001.eml").write_bytes(
        b"From: zorgbroker@localhost\r\nTo: centrum@example.org\r\nSubject: test\r\n\r\nhoi\r\n"
    )
    # Port 9 (discard) is closed on any machine that runs these tests: a refusal, at once.
    return {"ZORGBROKER_HOME": str(home), "ZORGBROKER_SMTP_HOST": "127.0.0.1",
            "ZORGBROKER_SMTP_PORT": "9", "ZORGBROKER_SMTP_SECURITY": "none"}  # fmt: skip


def _events(text: str) -> list[str]:
    return [json.loads(line)["event"] for line in text.splitlines() if line.startswith("{")]


def test_by_default_log_lines_go_to_the_log_file_not_the_terminal(
    waiting_mail: dict[str, str],
) -> None:
    done = zorgbroker("mail", "--send-pending", env=waiting_mail)
    assert done.returncode == 1
    assert done.stdout.strip() == "0 bericht(en) verstuurd, 1 wachten nog."
    assert done.stderr == ""
    log = Path(waiting_mail["ZORGBROKER_HOME"]) / "logs" / "zorgbroker.log"
    assert _events(log.read_text(encoding="utf-8")) == ["mail.smtp_failed"]


def test_verbose_shows_the_log_lines_on_stderr(waiting_mail: dict[str, str]) -> None:
    done = zorgbroker("mail", "--send-pending", "--verbose", env=waiting_mail)
    assert done.returncode == 1
    assert _events(done.stderr) == ["mail.smtp_failed", "mail.outbox"]


def test_a_log_level_shows_the_log_lines_on_stderr(waiting_mail: dict[str, str]) -> None:
    done = zorgbroker(
        "mail", "--send-pending", env={**waiting_mail, "ZORGBROKER_LOG_LEVEL": "WARNING"}
    )
    assert _events(done.stderr) == ["mail.smtp_failed"]
    assert not (Path(waiting_mail["ZORGBROKER_HOME"]) / "logs").exists()
