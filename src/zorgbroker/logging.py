"""Structured logging: JSON lines, never a value from an uploaded file.

Log events name what happened and carry counts, codes, ids and hashes. The privacy invariant is
kept by what callers pass, and checked by tests that search every log for the identifiers that went
into a run.

Where they go: by default to the log file `logs/zorgbroker.log` under ZORGBROKER_HOME, so that a
user sees only the commands' Dutch messages on the terminal. With `--verbose` (level INFO) or
ZORGBROKER_LOG_LEVEL set, they go to stderr instead.
"""

from __future__ import annotations

import logging
import os
import sys
from pathlib import Path
from typing import Any, TextIO, cast

#: The level below which nothing is logged, once `configure` has run.
_threshold: int | None = None

#: Whether the user asked to see the log lines (`--verbose`).
_verbose = False

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
    default = "INFO" if _verbose else "WARNING"
    level_name = (level or os.environ.get("ZORGBROKER_LOG_LEVEL") or default).upper()
    return logging.getLevelNamesMapping().get(level_name, logging.WARNING)


def log_file() -> Path:
    """The file the log lines go to unless they are shown (under ZORGBROKER_HOME)."""
    configured = os.environ.get("ZORGBROKER_HOME")
    if configured:
        home = Path(configured).expanduser()
    else:
        from zorgbroker.settings import default_home

        home = default_home()
    return home / "logs" / "zorgbroker.log"


class _LogFile:
    """Appends each log line to `log_file()`, found anew for each line.

    A line at a time, opened for appending: concurrent processes (workers, commands) do not
    overwrite each other's lines, and ZORGBROKER_HOME is honoured as it is when the event happens.
    If the file cannot be written, the line goes to stderr rather than being lost.
    """

    def __init__(self) -> None:
        self._pending = ""

    def write(self, text: str) -> int:
        # print() writes a line and its newline separately: whole lines are appended at once.
        self._pending += text
        complete, newline, self._pending = self._pending.rpartition("\n")
        if newline:
            self._append(complete + newline)
        return len(text)

    def _append(self, lines: str) -> None:
        path = log_file()
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            with path.open("a", encoding="utf-8") as handle:
                handle.write(lines)
        except OSError:
            sys.stderr.write(lines)

    def flush(self) -> None:
        return None


def shows_log_lines() -> bool:
    """Whether log lines go to stderr (asked for), rather than to the log file."""
    return _verbose or bool(os.environ.get("ZORGBROKER_LOG_LEVEL"))


def show_log_lines() -> None:
    """`--verbose`: log lines from level INFO on go to stderr from now on."""
    global _verbose
    _verbose = True
    if _threshold is not None:
        configure()


def configure(stream: TextIO | None = None, level: str | None = None) -> None:
    global _threshold
    import structlog

    if stream is None:
        stream = sys.stderr if shows_log_lines() else cast(TextIO, _LogFile())
    threshold = _level(level)
    structlog.configure(
        processors=[
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.processors.JSONRenderer(ensure_ascii=False),
        ],
        wrapper_class=structlog.make_filtering_bound_logger(threshold),
        logger_factory=structlog.PrintLoggerFactory(stream),
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
