"""Handing a message over: to the SMTP server when one is configured, else to the local mailbox.

Both write files owner-only and atomically (a temporary name, then a rename), so `zorgbroker mail`
and the outbox never read half a message.
"""

from __future__ import annotations

import datetime as dt
import os
import secrets
import smtplib
import ssl
from email.message import EmailMessage
from email.policy import SMTP
from pathlib import Path

from zorgbroker.logging import get_logger
from zorgbroker.settings import Settings

log = get_logger(__name__)

DEFAULT_PORTS = {"ssl": 465, "starttls": 587, "none": 25}


class DeliveryFailed(Exception):
    """The SMTP server did not take the message (now); it can be sent again later."""


def uses_smtp(settings: Settings) -> bool:
    return bool(settings.smtp_host)


def message_bytes(message: EmailMessage) -> bytes:
    return message.as_bytes(policy=SMTP)


def write_private(folder: Path, name: str, data: bytes) -> Path:
    """Write `folder/name` owner-only; readers see the whole file or none of it."""
    folder.mkdir(parents=True, exist_ok=True)
    folder.chmod(0o700)
    temporary = folder / f".{name}.{secrets.token_hex(4)}.tmp"
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        target = folder / name
        os.replace(temporary, target)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
    return target


def mail_file_name(message: EmailMessage) -> str:
    """Sortable by the time of writing: `zorgbroker mail` numbers messages in this order."""
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%S%f")
    upload = str(message.get("X-Zorgbroker-Upload", "")).strip()
    label = f"-aanlevering-{upload}" if upload.isdigit() else ""
    return f"{stamp}{label}-{secrets.token_hex(3)}.eml"


def write_to_mailbox(message: EmailMessage, settings: Settings) -> Path:
    return write_private(settings.mailbox_dir, mail_file_name(message), message_bytes(message))


def send_smtp(message: EmailMessage, settings: Settings) -> None:
    """Send through the configured server; `DeliveryFailed` when it cannot take it now."""
    host = settings.smtp_host
    assert host, "send_smtp needs ZORGBROKER_SMTP_HOST"
    security = settings.smtp_security
    port = settings.smtp_port or DEFAULT_PORTS[security]
    timeout = settings.smtp_timeout_seconds
    try:
        client: smtplib.SMTP
        if security == "ssl":
            client = smtplib.SMTP_SSL(
                host, port, timeout=timeout, context=ssl.create_default_context()
            )
        else:
            client = smtplib.SMTP(host, port, timeout=timeout)
        with client:
            if security == "starttls":
                client.starttls(context=ssl.create_default_context())
            if settings.smtp_user:
                password = (
                    settings.smtp_password.get_secret_value() if settings.smtp_password else ""
                )
                client.login(settings.smtp_user, password)
            client.send_message(message)
    except (OSError, smtplib.SMTPException) as exc:
        # Only the kind of failure: the server's reply may quote addresses.
        log.warning("mail.smtp_failed", host=host, port=port, error=type(exc).__name__)
        raise DeliveryFailed(type(exc).__name__) from exc


def deliver(message: EmailMessage, settings: Settings) -> str:
    """Hand the message over; "smtp" or "mailbox" for where it went."""
    if uses_smtp(settings):
        send_smtp(message, settings)
        return "smtp"
    write_to_mailbox(message, settings)
    return "mailbox"
