"""Stage 1, at the source: P1 = HMAC-SHA256(K_source, label "|" value).

K_source is shared by all sources of a project and never leaves them: the registry relays P1 but
cannot reverse it by trying all 10^8 possible BSNs, because it lacks the key.
"""

from __future__ import annotations

import polars as pl

from zorgbroker.pseudonymisation.hmac_batch import hmac_hex_series
from zorgbroker.pseudonymisation.method import BSN_LABEL, LABEL_SEPARATOR

_LABEL_CHARS = frozenset("abcdefghijklmnopqrstuvwxyz0123456789_-")


def stage1(values: pl.Series, *, key: bytes, label: str = BSN_LABEL) -> pl.Series:
    """Stage-1 pseudonyms (64 lowercase hex digits) of already normalised values.

    Nulls stay null. The label keeps pseudonyms of different kinds of value apart, so a surname
    that happens to read like a BSN cannot collide with one.
    """
    if not label or not set(label) <= _LABEL_CHARS:
        raise ValueError(f"Ongeldig label {label!r} voor stap 1.")
    messages = values.cast(pl.String).cast(pl.Binary)
    prefix = (label + LABEL_SEPARATOR).encode()
    return hmac_hex_series(key, messages, prefix=prefix).alias(values.name)


def normalise_text_expr(values: pl.Expr) -> pl.Expr:
    """Normalisation for identifying free text (e.g. a surname) before stage 1: trimmed, inner
    white space collapsed to one space, lower case. Empty becomes null."""
    text = values.str.replace_all(r"\s+", " ").str.strip_chars().str.to_lowercase()
    return pl.when(text == "").then(None).otherwise(text)
