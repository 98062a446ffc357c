"""Source users of the browser at the TTP: enrolment, the TTP password, the wrapped source key.

A TTP officer enrols a source user (e-mail address, organisation's AGB code, registry). The TTP
mails them a single-use link to its own page, where they choose a TTP password; the TTP then
wraps the project's source key under that password (`keywrap`) and keeps only the wrapping. The
registry's portal relays the wrapping to that user's browser, which unwraps it with the password
the user types. The TTP never stores the password; the registry never sees it or the key.

The TTP is the custodian of the project keys (docs/pseudonymisation.md, 9.1): it makes
K_source[R] when a project first needs it, or adopts the key the source side of this same
installation already uses, so `zorgbroker pseudonymise`/`submit` and the browser agree on P1.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from zorgbroker.pseudonymisation.custody import (
    KEY_BYTES,
    KeyCustodyError,
    read_key,
    source_key_path,
    write_new_key,
)
from zorgbroker.pseudonymisation.errors import BatchRejected
from zorgbroker.pseudonymisation.keywrap import WrappedKey, normalised_email, wrap_key
from zorgbroker.pseudonymisation.method import check_registry_name, fingerprint
from zorgbroker.pseudonymisation.ttp import TrustedThirdParty
from zorgbroker.pseudonymisation.ttp_password import password_problems, personal_words

#: How long a link to set the TTP password stays valid.
LINK_VALID = dt.timedelta(hours=72)

_AGB = re.compile(r"[0-9]{8}")
_EMAIL = re.compile(r"[^@\s|]+@[^@\s|]+\.[^@\s|]+")


class Mailer(Protocol):
    def send(self, to: str, subject: str, body: str) -> None: ...


class LinkInvalid(Exception):
    """The link is unknown, used or expired (Dutch message)."""

    def __init__(self) -> None:
        super().__init__(
            "Deze link is verlopen of al gebruikt. Vraag de TTP om een nieuwe link om uw "
            "TTP-wachtwoord in te stellen."
        )


class PasswordRefused(Exception):
    """The chosen TTP password is not good enough; `problems` say why in Dutch."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__(" ".join(problems))
        self.problems = problems


@dataclass(frozen=True)
class Enrolment:
    registry: str
    email: str
    organisation: str
    #: Until when the mailed link can be used (UTC).
    link_expires: dt.datetime


def utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _stamp(moment: dt.datetime) -> str:
    # The store's own time format (`ttp_store.now`), so stamps compare as text.
    return moment.astimezone(dt.UTC).isoformat(timespec="seconds")


def _link_hash(token: str) -> str:
    # The link carries 256 random bits, so a plain hash is enough; the store never holds a link.
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def check_enrolment(email: str, organisation: str, registry: str) -> tuple[str, str, str]:
    """The three parts, normalised, or BatchRejected with a Dutch message."""
    try:
        check_registry_name(registry)
    except ValueError as error:
        raise BatchRejected(str(error)) from None
    if not _AGB.fullmatch(organisation):
        raise BatchRejected(f"'{organisation}' is geen AGB-code van 8 cijfers.")
    address = normalised_email(email)
    if not _EMAIL.fullmatch(address):
        raise BatchRejected(f"'{email}' is geen e-mailadres.")
    return address, organisation, registry


def invitation_text(enrolment: Enrolment, link: str) -> tuple[str, str]:
    """Subject and body of the mail with the link (Dutch)."""
    until = enrolment.link_expires.strftime("%d-%m-%Y %H:%M UTC")
    subject = f"Stel uw TTP-wachtwoord in (register {enrolment.registry})"
    body = (
        "Beste aanleveraar,\n\n"
        f"De vertrouwde derde partij (TTP) heeft u ingeschreven om gegevens voor register "
        f"{enrolment.registry} aan te leveren namens de organisatie met AGB-code "
        f"{enrolment.organisation}.\n\n"
        "Kies via deze link uw TTP-wachtwoord:\n\n"
        f"  {link}\n\n"
        f"De link werkt één keer en is geldig tot {until}.\n\n"
        "Met dit wachtwoord opent uw browser de projectsleutel waarmee patiëntgegevens al op uw "
        "eigen computer worden gepseudonimiseerd. Het register bewaart alleen een versleutelde "
        "sleutel en kent uw TTP-wachtwoord niet; ook de TTP bewaart het niet. Kies daarom een "
        "ander wachtwoord dan waarmee u zich bij het portaal aanmeldt, en bewaar het goed: "
        "vergeten betekent een nieuwe link aanvragen bij de TTP.\n\n"
        "Verwachtte u dit bericht niet? Gebruik de link dan niet en meld het bij de TTP.\n"
    )
    return subject, body


class SourceKeyCustody:
    """The TTP's side of the browser's source key. Handed the TTP and a clock."""

    def __init__(
        self, ttp: TrustedThirdParty, *, clock: Callable[[], dt.datetime] = utc_now
    ) -> None:
        self.ttp = ttp
        self.clock = clock

    # --- the project key ---

    def project_key(self, registry: str) -> bytes:
        """K_source[R] in the TTP's custody: made on first need, or adopted from the source side
        of this same installation (so its earlier P1s stay valid). Refused when both exist and
        differ: one of them would make pseudonyms nobody recognises."""
        ttp = self.ttp
        ttp.ready()
        path = ttp.keys.source_key_path(registry)
        local = source_key_path(ttp.home, registry)
        if not path.exists():
            adopted = local.exists()
            key = read_key(local, length=KEY_BYTES) if adopted else secrets.token_bytes(KEY_BYTES)
            if write_new_key(path, key):
                ttp.audit.append(
                    "bronsleutel-overgenomen" if adopted else "bronsleutel-aangemaakt",
                    "ttp",
                    {"register": registry, "vingerafdruk": fingerprint(key)},
                )
        key = read_key(path, length=KEY_BYTES)
        if local.exists() and read_key(local, length=KEY_BYTES) != key:
            raise KeyCustodyError(
                f"De bronsleutel van project {registry} bij de TTP verschilt van {local}; "
                "zie docs/pseudonymisation.md, paragraaf 9.1."
            )
        return key

    # --- enrolment and the password ---

    def enrol(
        self, email: str, organisation: str, registry: str, *, base_url: str, mailer: Mailer
    ) -> Enrolment:
        """Enrol (or enrol again) a source user and mail them a link to set the TTP password."""
        email, organisation, registry = check_enrolment(email, organisation, registry)
        self.project_key(registry)  # the key exists before anyone can be given it
        token = secrets.token_urlsafe(32)
        expires = self.clock() + LINK_VALID
        self.ttp.store.enrol(registry, email, organisation, _link_hash(token), _stamp(expires))
        enrolment = Enrolment(registry, email, organisation, expires)
        subject, body = invitation_text(enrolment, f"{base_url.rstrip('/')}/wachtwoord/{token}")
        mailer.send(email, subject, body)
        self.ttp.audit.append(
            "bron-gebruiker-ingeschreven",
            "ttp",
            {"register": registry, "organisatie": organisation, "gebruiker": email},
        )
        return enrolment

    def enrolment_for_link(self, token: str) -> Enrolment:
        """Whose link this is, or LinkInvalid (unknown, used or expired)."""
        self.ttp.ready()
        found = self.ttp.store.enrolment_by_link(_link_hash(token))
        if found is None:
            raise LinkInvalid()
        registry, email, organisation, expires = found
        until = dt.datetime.fromisoformat(expires)
        if until <= self.clock():
            raise LinkInvalid()
        return Enrolment(registry, email, organisation, until)

    def set_password(self, token: str, password: str) -> Enrolment:
        """Wrap the project key under the new TTP password and spend the link. The password is
        used for the wrapping only and then forgotten."""
        enrolment = self.enrolment_for_link(token)
        problems = password_problems(
            password, personal=personal_words(enrolment.email, enrolment.organisation)
        )
        if problems:
            raise PasswordRefused(problems)
        key = self.project_key(enrolment.registry)
        wrapped = wrap_key(
            key, password, registry=enrolment.registry, organisation=enrolment.organisation,
            email=enrolment.email,
        )  # fmt: skip
        blob = json.dumps(wrapped.to_json(), sort_keys=True)
        if not self.ttp.store.use_link(_link_hash(token), _stamp(self.clock()), blob):
            raise LinkInvalid()
        self.ttp.audit.append(
            "ttp-wachtwoord-ingesteld",
            "ttp",
            {"register": enrolment.registry, "organisatie": enrolment.organisation,
             "gebruiker": enrolment.email, "vingerafdruk": wrapped.key_fingerprint},
        )  # fmt: skip
        return enrolment

    # --- what the registry relays ---

    def wrapped_key(
        self, email: str, organisation: str, registry: str, *, asked_by: str
    ) -> WrappedKey | None:
        """The wrapping for exactly this user, organisation and registry, or None (not enrolled,
        no password set yet, or another organisation). Every answer is in the audit log."""
        try:
            email, organisation, registry = check_enrolment(email, organisation, registry)
        except BatchRejected:
            return None
        self.ttp.ready()
        found = self.ttp.store.wrapped_for(registry, email, organisation)
        self.ttp.audit.append(
            "sleutelomslag-opgevraagd" if found else "sleutelomslag-niet-gevonden",
            f"bron:{asked_by}",
            {"register": registry, "organisatie": organisation, "gebruiker": email},
        )
        return None if found is None else WrappedKey.from_json(json.loads(found))
