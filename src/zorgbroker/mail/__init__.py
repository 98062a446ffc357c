"""E-mail when an upload finishes: a Dutch notification with counts and codes, never file content.

Mail goes to an SMTP server when one is configured, else into the local mailbox folder that
`zorgbroker mail` shows. A server that does not take the mail delays it, never the upload: the
message waits in the outbox and is sent again later (by the workers, or `zorgbroker mail
--send-pending`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from zorgbroker.mail.notify import Notifier
    from zorgbroker.mail.outbox import SendResult, send_pending

__all__ = ["Notifier", "SendResult", "send_pending"]

#: Where each public name lives; imported on first use, so that `zorgbroker mail` (which needs
#: only the mailbox and the outbox) does not load the registry and the Excel writer with notify.
_LOCATIONS = {
    "Notifier": "zorgbroker.mail.notify",
    "SendResult": "zorgbroker.mail.outbox",
    "send_pending": "zorgbroker.mail.outbox",
}


def __getattr__(name: str) -> Any:
    if name not in _LOCATIONS:
        raise AttributeError(f"module 'zorgbroker.mail' has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module(_LOCATIONS[name]), name)
