"""E-mail when an upload finishes: a Dutch notification with counts and codes, never file content.

Mail goes to an SMTP server when one is configured, else into the local mailbox folder that
`zorgbroker mail` shows. A server that does not take the mail delays it, never the upload: the
message waits in the outbox and is sent again later (by the workers, or `zorgbroker mail
--send-pending`).
"""

from zorgbroker.mail.notify import Notifier
from zorgbroker.mail.outbox import SendResult, send_pending

__all__ = ["Notifier", "SendResult", "send_pending"]
