"""Uploads as jobs: processed in the submitting process (embedded default), or by Procrastinate
workers on PostgreSQL (`ZORGBROKER_JOBS=procrastinate`, `zorgbroker worker`)."""

from zorgbroker.jobs.config import JobsConfigError, QueueSchemaError, QueueUnavailable
from zorgbroker.jobs.dispatch import QueueDispatcher, check_settings, processes_in_background

__all__ = [
    "JobsConfigError",
    "QueueDispatcher",
    "QueueSchemaError",
    "QueueUnavailable",
    "check_settings",
    "processes_in_background",
]
