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

#: The level below which nothing is logged, once `configure` has run.
_threshold: int | None = None

#: The level of each method of structlog's filtering logger that logs at a fixed level.
_METHOD_LEVELS = {
    "debug": logging.DEBUG,
    "info": logging.INFO,
    "msg": logging.INFO,
    "warning": logging.WARNING,
    "warn": logging.WARNING,
    "error": logging.ERROR,
    "exception": logging.ERROR,
    "critical": logging.CRITICAL,
    "fatal": logging.CRITICAL,
}


def _level(level: str | None) -> int:
    level_name = (level or os.environ.get("ZORGBROKER_LOG_LEVEL") or "WARNING").upper()
    return logging.getLevelNamesMapping().get(level_name, logging.WARNING)


def configure(stream: TextIO | None = None, level: str | None = None) -> None:
    global _threshold
    import structlog

    threshold = _level(level)
    structlog.configure(
        processors=[
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.processors.JSONRenderer(ensure_ascii=False),
        ],
        wrapper_class=structlog.make_filtering_bound_logger(threshold),
        logger_factory=structlog.PrintLoggerFactory(stream or sys.stderr),
        cache_logger_on_first_use=False,
    )
    _threshold = threshold


def get_logger(name: str) -> Any:
    return _Logger(name)


def _dropped(*args: Any, **kwargs: Any) -> None:
    return None


class _Logger:
    """structlog's logger, loaded at the first event that passes the level.

    Loading structlog costs a command about 50 ms, and at the default level a `zorgbroker check`
    logs nothing: events below the level are dropped here, as structlog's filtering logger would.
    """

    __slots__ = ("_logger", "_name")

    def __init__(self, name: str) -> None:
        self._name = name
        self._logger: Any = None

    def __getattr__(self, method: str) -> Any:
        level = _METHOD_LEVELS.get(method)
        threshold = _threshold if _threshold is not None else _level(None)
        if level is not None and level < threshold:
            return _dropped
        if self._logger is None:
            if _threshold is None:
                configure()
            import structlog

            self._logger = structlog.get_logger(self._name)
        return getattr(self._logger, method)
