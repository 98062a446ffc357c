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
from zorgbroker.mail.recipients import local_recipient, recipients_for
from zorgbroker.mail.transport import DeliveryFailed, deliver, uses_smtp
from zorgbroker.registry.models import DONE, FAILED, Upload, utcnow
from zorgbroker.registry.registry_db import open_registry
from zorgbroker.registry.uploads import UploadError, UploadInfo, get_upload, load_report
from zorgbroker.settings import Settings

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


def compose(info: UploadInfo, settings: Settings) -> EmailMessage | None:
    """The notification for a finished upload; None when there is nobody to send it to."""
    report = None
    if info.status == DONE:
        try:
            report = load_report(settings, info.id)
        except UploadError:
            report = None
    recipients = recipients_for(info.uploaded_by, info.organisation, settings)
    if not recipients:
        if uses_smtp(settings):
            return None
        recipients = [local_recipient(info.uploaded_by)]
    xlsx = _xlsx(report, settings.mail_attachment_max_bytes) if report is not None else None
    return build_message(info, report, sender=settings.mail_from, recipients=recipients, xlsx=xlsx)


def _claim(engine: Engine, upload_id: int) -> bool:
    """Mark the upload notified, unless it was: only the process that marks it sends. (Two
    submits of one file join one upload, and each would otherwise mail it.)"""
    with engine.begin() as conn:
        done = conn.execute(
            update(Upload)
            .where(Upload.id == upload_id, Upload.notified_at.is_(None))
            .values(notified_at=utcnow())
        )
    return done.rowcount == 1


def _release(engine: Engine, upload_id: int) -> None:
    with engine.begin() as conn:
        conn.execute(update(Upload).where(Upload.id == upload_id).values(notified_at=None))


def notify_upload_finished(upload_id: int, *, settings: Settings) -> Outcome:
    """Send (or park) the notification of a done or failed upload. Never raises."""
    if not settings.mail_enabled:
        return "skipped"
    try:
        engine = open_registry(settings)
        info = get_upload(engine, upload_id)
        if info is None or info.status not in (DONE, FAILED):
            return "skipped"
        if not _claim(engine, upload_id):
            return "skipped"  # another process (a second submit of the file) sends it
        try:
            message = compose(info, settings)
        except Exception:
            _release(engine, upload_id)
            raise
        if message is None:
            log.warning("mail.no_recipient", upload=upload_id)
            return "skipped"
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
