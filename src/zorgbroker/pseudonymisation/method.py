"""The published pseudonymisation method: names, formats and policy that both sides must share.

Everything here is part of the method described in docs/pseudonymisation.md; changing any of it
changes pseudonyms and therefore needs a new METHOD_VERSION.
"""

from __future__ import annotations

import hmac
import re

#: Written into every pseudonym, so a registry can tell which method produced it. zb2: stage 1
#: uses the key of the receiving registry's project instead of one key per installation.
METHOD_VERSION = "zb2"

#: Methods whose labelled pseudonyms the TTP still recognises (re-identification requests for
#: pseudonyms a registry stored before an upgrade). Stage 2 and the key versions are the same.
KNOWN_METHOD_VERSIONS = ("zb1", "zb2")

#: Separates label and value in the stage-1 message: HMAC(K_source, label "|" value).
LABEL_SEPARATOR = "|"

#: The label of stage 1 for the citizen service number.
BSN_LABEL = "bsn"

#: Registries that must be able to reach patients again (the implant register part of the heart
#: registry). Only for these does the source seal the BSN for the TTP's re-identification store.
REIDENTIFIABLE_REGISTRIES = frozenset({"nhr"})

#: Key version written into pseudonyms made with throw-away test-mode keys.
TEST_KEY_VERSION = "test"

#: A stage-1 pseudonym on files and on the wire: 32 bytes as 64 lowercase hexadecimal digits.
STAGE1_PATTERN = r"^[0-9a-f]{64}$"

#: What a plain BSN looks like; the TTP refuses any item of this shape.
PLAIN_BSN_PATTERN = r"^\s*[0-9]{8,9}\s*$"

_REGISTRY_NAME = re.compile(r"[a-z][a-z0-9-]{0,31}")
_KEY_VERSION = re.compile(r"k[1-9][0-9]{0,5}|test")


def check_registry_name(registry: str) -> str:
    """Registry names end up in pseudonyms, file names and URLs, so keep them plain."""
    if not _REGISTRY_NAME.fullmatch(registry):
        raise ValueError(
            f"Ongeldige registernaam {registry!r}: gebruik kleine letters, cijfers en '-' "
            "(hoogstens 32 tekens, beginnend met een letter)."
        )
    return registry


def is_reidentifiable(registry: str) -> bool:
    return registry in REIDENTIFIABLE_REGISTRIES


def key_version_name(version: int) -> str:
    return f"k{version}"


def pseudonym_prefix(registry: str, key_version: str) -> str:
    """The label in front of every final pseudonym: method, registry and key version.

    Example: ``zb2:nhr:k1:`` followed by 64 hexadecimal digits.
    """
    check_registry_name(registry)
    if not _KEY_VERSION.fullmatch(key_version):
        raise ValueError(f"Ongeldige sleutelversie {key_version!r}.")
    return f"{METHOD_VERSION}:{registry}:{key_version}:"


def fingerprint(key: bytes) -> str:
    """HMAC(K, "fingerprint"), shortened to 16 hex digits: enough to tell keys apart in a report,
    and it reveals nothing about the key."""
    return hmac.digest(key, b"fingerprint", "sha256").hex()[:16]
