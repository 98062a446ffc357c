"""Who receives the notification of an upload.

In order: the uploader, when the name they uploaded under is an e-mail address (the portal's
logins are); else the address configured for the organisation (ZORGBROKER_MAIL_TO_ORGANISATIONS);
else the installation's fallback (ZORGBROKER_MAIL_TO). When none of those is known, the
notification goes to the local mailbox (`zorgbroker mail`), addressed to `LOCAL_MAILBOX`, as the
README says: never to an address guessed from a login name, and never nowhere.
"""

from __future__ import annotations

import re

from zorgbroker.settings import Settings

# Deliberately loose: the SMTP server is the judge of an address; this only tells an address
# apart from a login name such as "jansen" or "DOMEIN\\jansen".
#: The address on a notification that has no configured recipient; it stays in the local mailbox.
LOCAL_MAILBOX = "postbus@localhost"

_ADDRESS = re.compile(r"[^@\s,;<>]+@[^@\s,;<>]+\.[^@\s,;<>]+")


def is_address(value: str) -> bool:
    return _ADDRESS.fullmatch(value.strip()) is not None


def split_addresses(value: str) -> list[str]:
    return [part.strip() for part in re.split(r"[,;]", value) if part.strip()]


def recipients_for(uploaded_by: str, organisation: str, settings: Settings) -> list[str]:
    if is_address(uploaded_by):
        return [uploaded_by.strip()]
    for configured in (settings.mail_to_organisations.get(organisation), settings.mail_to):
        if configured:
            found = split_addresses(configured)
            if found:
                return found
    return []
