"""The batch wire format between a registry and the TTP service.

Request body (text/plain, ASCII): one item per line, either ``<stage-1 hex>`` or, for a
re-identifiable registry, ``<stage-1 hex><TAB><sealed BSN>``. Response body: one labelled pseudonym
per line, in the same order. A newline-separated body costs the server one split instead of a
JSON object per item, which is what makes 10,000+ items per request cheap.
"""

from __future__ import annotations

import polars as pl

from zorgbroker.pseudonymisation.errors import BatchRejected

CONTENT_TYPE = "text/plain; charset=us-ascii"
KEY_VERSION_HEADER = "X-Zorgbroker-Key-Version"
KEY_FINGERPRINT_HEADER = "X-Zorgbroker-Key-Fingerprint"
SOURCE_HEADER = "X-Zorgbroker-Source"


def encode_batch(stage1: pl.Series, sealed: pl.Series | None) -> bytes:
    """Items without nulls (the caller drops them) to a request body."""
    if sealed is None:
        joined = stage1.str.join("\n")
    else:
        lines = pl.select(pl.concat_str([pl.lit(stage1), pl.lit(sealed)], separator="\t"))
        joined = lines.to_series().str.join("\n")
    text = joined.item()
    return str(text).encode("ascii")


def decode_batch(body: bytes, *, with_sealed: bool) -> tuple[pl.Series, pl.Series | None]:
    """A request body to (stage-1 items, sealed items or None). Shape errors are BatchRejected."""
    try:
        text = body.decode("ascii")
    except UnicodeDecodeError:
        raise BatchRejected("Het verzoek bevat tekens buiten ASCII.") from None
    if text.endswith("\n"):
        text = text[:-1]
    if not text:
        return pl.Series("p1", [], dtype=pl.String), (
            pl.Series("sealed", [], dtype=pl.String) if with_sealed else None
        )
    lines = pl.Series("p1", text.split("\n"), dtype=pl.String)
    if not with_sealed:
        return lines, None
    parts = lines.str.split_exact("\t", 1).struct.unnest()
    first, second = parts.columns
    return parts[first].alias("p1"), parts[second].alias("sealed")


def encode_pseudonyms(pseudonyms: pl.Series) -> bytes:
    return str(pseudonyms.str.join("\n").item()).encode("ascii")


def decode_pseudonyms(body: bytes, expected: int) -> pl.Series:
    text = body.decode("ascii")
    items = text.split("\n") if text else []
    if len(items) != expected:
        raise BatchRejected("Het antwoord van de TTP telt een ander aantal regels dan gevraagd.")
    return pl.Series("pseudonym", items, dtype=pl.String)
