"""Tell the uploader how an upload ended; a mail problem never becomes the upload's problem."""

from __future__ import annotations

import io
from email.message import EmailMessage
from typing import Literal

from sqlalchemy import Engine, update

from zorgbroker.intake.api import Report, write_xlsx
from zorgbroker.logging import get_logger
from zorgbroker.mail.message import build_message
from zorgbroker.mail.outbox import park, pending, send_pending
from zorgbroker.mail.recipients import LOCAL_MAILBOX, recipients_for
from zorgbroker.mail.transport import DeliveryFailed, deliver, uses_smtp, write_to_mailbox
from zorgbroker.registry.models import DONE, FAILED, Upload, utcnow
from zorgbroker.settings import Settings
from zorgbroker.uploads.models import UploadInfo

log = get_logger(__name__)

#: A compressed Excel row of a message takes at least this many bytes; a report whose messages
#: alone would pass the attachment limit is not even written.
MIN_XLSX_BYTES_PER_MESSAGE = 20

Outcome = Literal["sent", "mailbox", "parked", "skipped", "error"]


def _xlsx(report: Report, limit: int) -> bytes | None:
    if report.messages.height * MIN_XLSX_BYTES_PER_MESSAGE > limit:
        return None
    buffer = io.BytesIO()
    write_xlsx(report, buffer)
    data = buffer.getvalue()
    return data if len(data) <= limit else None


def compose(info: UploadInfo, report: Report | None, settings: Settings) -> EmailMessage:
    """The notification for a finished upload, to its recipients (`recipients_for`), or, when
    none is configured, to the local mailbox's documented address (`LOCAL_MAILBOX`)."""
    recipients = recipients_for(info.uploaded_by, info.organisation, settings) or [LOCAL_MAILBOX]
    xlsx = _xlsx(report, settings.mail_attachment_max_bytes) if report is not None else None
    return build_message(info, report, sender=settings.mail_from, recipients=recipients, xlsx=xlsx)


class Notifier:
    """The uploads' mailer: tells the uploader how an upload ended, once.

    Handed the registry's engine (to mark an upload notified) and the settings of the mail."""

    def __init__(self, engine: Engine, settings: Settings) -> None:
        self._engine = engine
        self._settings = settings

    def _claim(self, upload_id: int) -> bool:
        """Mark the upload notified, unless it was: only the process that marks it sends. (Two
        submits of one file join one upload, and each would otherwise mail it.)"""
        with self._engine.begin() as conn:
            done = conn.execute(
                update(Upload)
                .where(Upload.id == upload_id, Upload.notified_at.is_(None))
                .values(notified_at=utcnow())
            )
        return done.rowcount == 1

    def _release(self, upload_id: int) -> None:
        with self._engine.begin() as conn:
            conn.execute(update(Upload).where(Upload.id == upload_id).values(notified_at=None))

    def upload_finished(self, info: UploadInfo, report: Report | None) -> Outcome:
        """Send (or park) the notification of a done or failed upload. Never raises.

        Without a configured recipient the message goes to the local mailbox, addressed to
        `LOCAL_MAILBOX`, also when an SMTP server is configured: it is never dropped."""
        settings = self._settings
        upload_id = info.id
        if not settings.mail_enabled or info.status not in (DONE, FAILED):
            return "skipped"
        try:
            if not self._claim(upload_id):
                return "skipped"  # another process (a second submit of the file) sends it
            try:
                message = compose(info, report if info.status == DONE else None, settings)
            except Exception:
                self._release(upload_id)
                raise
            if not recipients_for(info.uploaded_by, info.organisation, settings):
                write_to_mailbox(message, settings)
                if uses_smtp(settings):
                    log.warning("mail.no_recipient", upload=upload_id)
                return "mailbox"
            try:
                where = deliver(message, settings)
            except DeliveryFailed:
                park(message, settings)
                return "parked"
            log.info("mail.delivered", upload=upload_id, via=where)
            if where == "smtp" and pending(settings):
                send_pending(settings)  # the server is back: send what waited for it
            return "sent" if where == "smtp" else "mailbox"
        except Exception as exc:
            log.error("mail.notify_failed", upload=upload_id, error=type(exc).__name__)
            return "error"
