"""Errors of the TTP and its clients. Messages are Dutch and never contain an identifier."""

from __future__ import annotations


class TTPError(Exception):
    """Base class; `message` is shown to the user as it is."""

    status = 500

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class BatchRejected(TTPError):
    """The batch contains something that is not a proper stage-1 pseudonym (or sealed BSN)."""

    status = 422


class NotAuthorised(TTPError):
    status = 401


class Forbidden(TTPError):
    status = 403


class RateLimited(TTPError):
    status = 429


class BatchTooLarge(TTPError):
    status = 413


class ReidentificationRefused(TTPError):
    """A re-identification step the rules do not allow (too few approvals, same officer, ...)."""

    status = 409


class TTPUnavailable(TTPError):
    status = 503
