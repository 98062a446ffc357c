"""The web server's access log without the tokens that some paths carry.

Invitation links (`/uitnodiging/<token>`) and mailed login links (`/aanmelden/token/<token>`)
hold a secret in the path; an access log line must not. `install()` adds the filter to
uvicorn's access logger (the composition root calls it before serving).
"""

from __future__ import annotations

import logging
import re

SECRET_PATHS = re.compile(r"(/uitnodiging/|/aanmelden/token/)[^/?\s\"]+")
HIDDEN = r"\1[verborgen]"


def redact(text: str) -> str:
    return SECRET_PATHS.sub(HIDDEN, text)


class RedactTokens(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple):
            record.args = tuple(redact(a) if isinstance(a, str) else a for a in record.args)
        record.msg = redact(str(record.msg))
        return True


def install(logger_name: str = "uvicorn.access") -> None:
    logging.getLogger(logger_name).addFilter(RedactTokens())
