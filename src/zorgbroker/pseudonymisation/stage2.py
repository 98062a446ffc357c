"""Stage 2, at the TTP: P = HMAC-SHA256(K_registry, P1), labelled with method, registry and key.

Pure functions; the TTP service and the in-process client both call these.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import polars as pl

from zorgbroker.pseudonymisation.hmac_batch import hmac_binary_series, hmac_hex_of_hex_series
from zorgbroker.pseudonymisation.method import PLAIN_BSN_PATTERN, STAGE1_PATTERN


@dataclass(frozen=True)
class InvalidItem:
    """The first item of a batch that is not a stage-1 pseudonym (0-based position)."""

    position: int
    reason: Literal["plain-bsn", "format"]

    def message(self) -> str:
        line = self.position + 1
        if self.reason == "plain-bsn":
            return (
                f"Regel {line} lijkt een onversleuteld BSN; de TTP aanvaardt alleen "
                "stap-1-pseudoniemen."
            )
        return f"Regel {line} is geen stap-1-pseudoniem (64 hexadecimale tekens verwacht)."


def first_invalid_stage1(items: pl.Series, *, allow_nulls: bool = False) -> InvalidItem | None:
    """Checks a whole batch at once; nulls count as invalid (the wire format has no nulls)."""
    ok = items.str.contains(STAGE1_PATTERN).fill_null(allow_nulls)
    if ok.all():
        return None
    position = int(ok.not_().arg_true()[0])
    value = items[position]
    looks_like_bsn = value is not None and bool(
        pl.Series([value]).str.contains(PLAIN_BSN_PATTERN)[0]
    )
    return InvalidItem(position, "plain-bsn" if looks_like_bsn else "format")


def stage2_raw(p1_hex: pl.Series, *, key: bytes) -> pl.Series:
    """The 32-byte stage-2 digests (Binary) of hex stage-1 pseudonyms; nulls stay null."""
    return hmac_binary_series(key, p1_hex.str.decode("hex"))


def stage2(p1_hex: pl.Series, *, key: bytes, prefix: str) -> pl.Series:
    """Labelled final pseudonyms, e.g. ``zb1:nhr:k1:<64 hex>``; nulls stay null."""
    digests = hmac_hex_of_hex_series(key, p1_hex.cast(pl.String))
    return (prefix + digests).alias(p1_hex.name)
