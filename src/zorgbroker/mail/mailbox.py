"""Reading the embedded mailbox (`ZORGBROKER_HOME/mailbox`) for `zorgbroker mail`."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from email import message_from_bytes
from email.message import EmailMessage
from email.policy import default
from email.utils import parsedate_to_datetime
from pathlib import Path

from zorgbroker.settings import Settings


@dataclass(frozen=True)
class MailEntry:
    #: 1 for the oldest message; stable while messages are only added.
    number: int
    path: Path
    date: dt.datetime | None
    to: str
    subject: str
    attachments: tuple[str, ...]


def read_message(path: Path) -> EmailMessage:
    message = message_from_bytes(path.read_bytes(), _class=EmailMessage, policy=default)
    assert isinstance(message, EmailMessage)
    return message


def attachment_names(message: EmailMessage) -> tuple[str, ...]:
    return tuple(part.get_filename() or "(naamloos)" for part in message.iter_attachments())


def text_body(message: EmailMessage) -> str:
    part = message.get_body(preferencelist=("plain",))
    if part is None:
        return ""
    content = part.get_content()  # type: ignore[attr-defined]
    # Stored as sent, with CRLF line ends; a terminal wants plain ones.
    return content.replace("\r\n", "\n") if isinstance(content, str) else ""


def _date(message: EmailMessage) -> dt.datetime | None:
    try:
        return parsedate_to_datetime(str(message["Date"])) if message["Date"] else None
    except (TypeError, ValueError):
        return None


def mail_files(folder: Path) -> list[Path]:
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.glob("*.eml") if p.is_file())


def list_mailbox(settings: Settings) -> list[MailEntry]:
    entries = []
    for number, path in enumerate(mail_files(settings.mailbox_dir), start=1):
        message = read_message(path)
        entries.append(
            MailEntry(
                number=number,
                path=path,
                date=_date(message),
                to=str(message.get("To", "")),
                subject=str(message.get("Subject", "")),
                attachments=attachment_names(message),
            )
        )
    return entries


@dataclass(frozen=True)
class StoredMail:
    to: str
    subject: str
    body: str


@dataclass(frozen=True)
class MailboxFolder:
    """The mailbox folder read as a list of mails, oldest first (the demo's mailbox page)."""

    folder: Path

    @property
    def sent(self) -> list[StoredMail]:
        mails = []
        for path in mail_files(self.folder):
            message = read_message(path)
            to, subject = str(message.get("To", "")), str(message.get("Subject", ""))
            mails.append(StoredMail(to, subject, text_body(message)))
        return mails
