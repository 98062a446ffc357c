"""Mail the SMTP server did not take waits in `ZORGBROKER_HOME/mail/outbox` until it does.

Several processes may empty the outbox at once (workers, `zorgbroker mail --send-pending`): each
message is sent under an exclusive lock on its file and removed before the lock is let go, so it
goes out once. A process that dies mid-send drops its lock with it, and the message stays for
the next round. (If it died after the server took the message but before removing the file, the
message goes out twice: better twice than never.)
"""

from __future__ import annotations

import fcntl
import os
from dataclasses import dataclass
from email import message_from_bytes
from email.message import EmailMessage
from email.policy import default
from pathlib import Path

from zorgbroker.logging import get_logger
from zorgbroker.mail.transport import (
    DeliveryFailed,
    deliver,
    mail_file_name,
    message_bytes,
    write_private,
)
from zorgbroker.settings import Settings

log = get_logger(__name__)


@dataclass(frozen=True)
class SendResult:
    sent: int
    #: Messages still in the outbox after this round.
    left: int


def park(message: EmailMessage, settings: Settings) -> Path:
    """Keep a message that could not be sent, for a later round."""
    path = write_private(settings.outbox_dir, mail_file_name(message), message_bytes(message))
    log.info("mail.parked", file=path.name)
    return path


def pending(settings: Settings) -> list[Path]:
    folder = settings.outbox_dir
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.glob("*.eml") if p.is_file())


def _send_one(path: Path, settings: Settings) -> bool | None:
    """True: sent; None: someone else has it, or it is gone. DeliveryFailed: server down."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except FileNotFoundError:
        return None
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return None
        if os.fstat(fd).st_nlink == 0:  # sent and removed by another process meanwhile
            return None
        with os.fdopen(os.dup(fd), "rb") as handle:
            data = handle.read()
        message = message_from_bytes(data, _class=EmailMessage, policy=default)
        assert isinstance(message, EmailMessage)
        deliver(message, settings)
        path.unlink(missing_ok=True)
        return True
    finally:
        os.close(fd)  # also lets go of the lock


def send_pending(settings: Settings) -> SendResult:
    """Try every waiting message once, oldest first; stop at the first the server refuses."""
    sent = 0
    for path in pending(settings):
        try:
            if _send_one(path, settings):
                sent += 1
        except DeliveryFailed:
            break
        except Exception as exc:  # one unreadable message must not hold up the others
            log.warning("mail.outbox_unsendable", file=path.name, error=type(exc).__name__)
    left = len(pending(settings))
    if sent or left:
        log.info("mail.outbox", sent=sent, left=left)
    return SendResult(sent=sent, left=left)
