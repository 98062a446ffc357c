"""A registry home on SQLite, real upload files, and a real SMTP server (aiosmtpd) on 127.0.0.1."""

from __future__ import annotations

import socket
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from email import message_from_bytes
from email.message import EmailMessage
from email.policy import default
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller

from tests.registry.conftest import Registry
from zorgbroker.settings import get_settings


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass
class Inbox:
    """What the SMTP server received, as parsed messages."""

    messages: list[EmailMessage] = field(default_factory=list)
    recipients: list[list[str]] = field(default_factory=list)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        message = message_from_bytes(envelope.content, _class=EmailMessage, policy=default)
        self.messages.append(message)  # type: ignore[arg-type]
        self.recipients.append(list(envelope.rcpt_tos))
        return "250 Message accepted for delivery"


@dataclass
class SmtpServer:
    port: int
    inbox: Inbox = field(default_factory=Inbox)
    _controller: Controller | None = None

    def start(self) -> None:
        self._controller = Controller(self.inbox, hostname="127.0.0.1", port=self.port)
        self._controller.start()

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller = None


@pytest.fixture
def smtp_server() -> Iterator[SmtpServer]:
    """A server on a free port, not yet started: a test decides when it is up."""
    server = SmtpServer(free_port())
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Callable[..., Registry]:
    """A fresh SQLite registry; call it with extra ZORGBROKER_* settings (name=value)."""
    for name in ("DATABASE_URL", "TTP_URL", "JOBS", "SMTP_HOST", "MAIL_TO", "USER"):
        monkeypatch.delenv(f"ZORGBROKER_{name}", raising=False)
    monkeypatch.setenv("ZORGBROKER_HOME", str(tmp_path / "home"))
    files = tmp_path / "files"
    files.mkdir()

    def make(**settings: str) -> Registry:
        for name, value in settings.items():
            monkeypatch.setenv(f"ZORGBROKER_{name.upper()}", value)
        return Registry(get_settings(fresh=True), files, "sqlite")

    return make


def smtp_settings(server: SmtpServer) -> dict[str, str]:
    return {"smtp_host": "127.0.0.1", "smtp_port": str(server.port), "smtp_security": "none"}


def submit_and_dispatch(registry: Registry, path: Path, *, mode: str = "production") -> int:
    upload_id = registry.receive(path, mode=mode)
    registry.dispatch(upload_id)
    return upload_id
