"""Uploads as jobs: processed in the submitting process (embedded default), or by Procrastinate
workers on PostgreSQL (`ZORGBROKER_JOBS=procrastinate`, `zorgbroker worker`)."""

from zorgbroker.jobs.config import JobsConfigError, QueueSchemaError, QueueUnavailable
from zorgbroker.jobs.dispatch import (
    check_settings,
    dispatch,
    processes_in_background,
    wait_for_upload,
)
from zorgbroker.jobs.run import run_upload_job

__all__ = [
    "JobsConfigError",
    "QueueSchemaError",
    "QueueUnavailable",
    "check_settings",
    "dispatch",
    "processes_in_background",
    "run_upload_job",
    "wait_for_upload",
]
