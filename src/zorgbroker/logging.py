"""Structured logging: JSON lines to stderr (or a file), never a value from an uploaded file.

Log events name what happened and carry counts, codes, ids and hashes. The privacy invariant is
kept by what callers pass, and checked by tests that search every log for the identifiers that went
into a run.
"""

from __future__ import annotations

import logging
import os
import sys
from typing import Any, TextIO

import structlog

_configured = False


def configure(stream: TextIO | None = None, level: str | None = None) -> None:
    global _configured
    level_name = (level or os.environ.get("ZORGBROKER_LOG_LEVEL") or "WARNING").upper()
    structlog.configure(
        processors=[
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.processors.JSONRenderer(ensure_ascii=False),
        ],
        wrapper_class=structlog.make_filtering_bound_logger(
            logging.getLevelNamesMapping().get(level_name, logging.WARNING)
        ),
        logger_factory=structlog.PrintLoggerFactory(stream or sys.stderr),
        cache_logger_on_first_use=False,
    )
    _configured = True


def get_logger(name: str) -> Any:
    if not _configured:
        configure()
    return structlog.get_logger(name)
