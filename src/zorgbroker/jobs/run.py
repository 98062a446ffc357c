"""One upload job: the whole intake, then the notification. Whoever runs it (the submitting
process or a worker) gets the same behaviour."""

from __future__ import annotations

from zorgbroker.logging import get_logger
from zorgbroker.mail.notify import notify_upload_finished
from zorgbroker.registry.models import DONE, FAILED
from zorgbroker.registry.registry_db import open_registry
from zorgbroker.registry.uploads import ProcessingFailed, UploadError, get_upload, process_upload
from zorgbroker.settings import Settings

log = get_logger(__name__)


def run_upload_job(upload_id: int, *, settings: Settings) -> str | None:
    """Process the upload and send its notification; the upload's final status.

    Never raises for a failed upload (that is an outcome, recorded on the upload and mailed),
    so a job runner has nothing to log but ids. An upload that was already done is left alone
    and not mailed again (its notification went out when it was done). None for an unknown id.
    """
    before = get_upload(open_registry(settings), upload_id)
    if before is None:
        log.warning("job.unknown_upload", upload=upload_id)
        return None
    if before.status == DONE:
        return DONE
    try:
        process_upload(upload_id, settings=settings)
        status = DONE
    except ProcessingFailed:
        status = FAILED
    except UploadError:  # the upload disappeared between our look and processing
        log.warning("job.unknown_upload", upload=upload_id)
        return None
    notify_upload_finished(upload_id, settings=settings)
    return status
