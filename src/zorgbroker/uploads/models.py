"""An upload as the service hands it out, and the statuses it passes through.

The tables themselves (`Upload`, `UploadReport`) stay in `zorgbroker.registry.models`: they are
part of the registry database's one Alembic chain, whose environment uses the registry's
declarative base.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from zorgbroker.intake.api import Stored
from zorgbroker.registry.models import DONE, FAILED, IN_FLIGHT, PROCESSING, QUEUED

#: Processing was interrupted (Ctrl-C during `zorgbroker submit`); the file was removed, and the
#: upload is not in flight, so the same file can simply be submitted again.
STOPPED = "stopped"
#: Statuses after which nothing more happens to an upload.
FINISHED = (DONE, FAILED, STOPPED)

#: What a user reads for a status (`zorgbroker uploads`).
STATUS_LABELS = {
    QUEUED: "in wachtrij",
    PROCESSING: "bezig",
    DONE: "verwerkt",
    FAILED: "mislukt",
    STOPPED: "gestopt",
}


@dataclass(frozen=True)
class UploadInfo:
    id: int
    organisation: str
    dataset: str
    dataset_version: str
    mode: str
    status: str
    file_name: str
    file_sha256: str
    file_bytes: int
    submitted_at: dt.datetime
    finished_at: dt.datetime | None
    records: int | None
    accepted: int | None
    rejected: int | None
    file_rejected: bool | None
    stored: Stored | None
    uploaded_by: str
    error: str | None
    stored_file: str | None
    reference_date: dt.date
    started_at: dt.datetime | None = None
    #: The stage processing is in (`zorgbroker.uploads.progress`), since when, and the stages of
    #: the last attempt so far: stage -> {"seconds": ..., "rows": ...}.
    stage: str | None = None
    stage_started_at: dt.datetime | None = None
    stages: dict[str, Any] | None = None

    def as_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "organisation": self.organisation,
            "dataset": self.dataset,
            "dataset_version": self.dataset_version,
            "mode": self.mode,
            "status": self.status,
            "file": self.file_name,
            "submitted_at": self.submitted_at.isoformat(),
            "finished_at": self.finished_at.isoformat() if self.finished_at else None,
            "records": self.records,
            "accepted": self.accepted,
            "rejected": self.rejected,
            "file_rejected": self.file_rejected,
            "stored": None
            if self.stored is None
            else {
                "new": self.stored.new,
                "updated": self.stored.updated,
                "unchanged": self.stored.unchanged,
            },
            "uploaded_by": self.uploaded_by,
            "error": self.error,
        }


__all__ = [
    "DONE",
    "FAILED",
    "FINISHED",
    "IN_FLIGHT",
    "PROCESSING",
    "QUEUED",
    "STATUS_LABELS",
    "STOPPED",
    "UploadInfo",
]
