"""BSN normalisation and the eleven-test, as Polars expressions (step 1 of the method).

The eleven-test runs before anything else touches a BSN: a value that fails it never reaches a
key, so a typo cannot turn into a pseudonym of some other person.
"""

from __future__ import annotations

import polars as pl

#: Weights of the BSN eleven-test, first digit to last; the last digit counts negatively.
_WEIGHTS = (9, 8, 7, 6, 5, 4, 3, 2, -1)


def compact_bsn(values: pl.Expr) -> pl.Expr:
    """Surrounding white space and the usual separators removed; an 8-digit BSN (a leading zero
    lost in a spreadsheet) padded back to 9 digits. Anything else is left as it is."""
    compact = values.str.replace_all(r"[\s.\-]", "")
    return (
        pl.when(compact.str.contains(r"^[0-9]{8}$")).then(pl.lit("0") + compact).otherwise(compact)
    )


def passes_eleven_test(compact: pl.Expr) -> pl.Expr:
    """True for 9 digits whose weighted sum is divisible by 11 and that are not all zeros;
    false for anything else, null for null."""
    digits = [compact.str.slice(i, 1).cast(pl.Int32, strict=False) for i in range(9)]
    total = pl.sum_horizontal(*(d * w for d, w in zip(digits, _WEIGHTS, strict=True)))
    return (
        pl.when(compact.is_null())
        .then(None)
        .otherwise(
            compact.str.contains(r"^[0-9]{9}$").fill_null(False)
            & (compact != "000000000")
            & ((total % 11) == 0)
        )
    )


def normalise_bsn_expr(values: pl.Expr) -> pl.Expr:
    """The normalised 9-digit BSN, or null when the value is missing or fails the eleven-test."""
    compact = compact_bsn(values)
    return pl.when(passes_eleven_test(compact)).then(compact).otherwise(None)


def _compacted(values: pl.Series) -> pl.DataFrame:
    # Compacted into a column of its own first: inlined, the compaction expression is repeated in
    # each of the test's ten references to it and computed again every time (about 10x slower).
    return pl.DataFrame({"v": values.cast(pl.String)}).with_columns(v=compact_bsn(pl.col("v")))


def normalise_bsn(values: pl.Series) -> pl.Series:
    compact = pl.col("v")
    return (
        _compacted(values)
        .select(pl.when(passes_eleven_test(compact)).then(compact).otherwise(None))
        .to_series()
        .alias(values.name)
    )


def bsn_is_valid(values: pl.Series) -> pl.Series:
    """Per value: does it pass the eleven-test after compaction (null stays null)."""
    return _compacted(values).select(passes_eleven_test(pl.col("v"))).to_series().alias(values.name)
