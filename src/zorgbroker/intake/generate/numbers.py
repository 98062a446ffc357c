"""Vectorised identifiers with valid check digits: BSN, GTIN-14, and unique serial numbers.

Everything here works on whole numpy arrays; a generated file of ten million rows must never
reach a Python loop per row.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import polars as pl

IntArray = npt.NDArray[np.int64]

#: Seven-digit BSN prefixes 1000000..9999999; each has exactly nine usable eighth digits.
_BSN_PREFIXES = 9_000_000
BSN_CAPACITY = _BSN_PREFIXES * 9
_INVERSE_OF_2_MOD_11 = 6


@dataclass(frozen=True)
class Permutation:
    """A bijection i -> (a*i + b) mod m; spreads consecutive row numbers over the whole range.

    Drawing identifiers through a permutation of the global row number makes them unique across
    a file generated in chunks without remembering what was drawn before.
    """

    multiplier: int
    offset: int
    modulus: int

    @classmethod
    def draw(cls, rng: np.random.Generator, modulus: int) -> Permutation:
        # Any multiplier coprime with 2, 3 and 5 is coprime with the moduli used here
        # (products of those primes), so the map is a bijection.
        while True:
            multiplier = int(rng.integers(modulus // 3, modulus)) | 1
            if multiplier % 3 and multiplier % 5:
                break
        return cls(multiplier, int(rng.integers(0, modulus)), modulus)

    def __call__(self, index: IntArray) -> IntArray:
        # a*i can overflow int64, so multiply in two halves of a: every partial product stays
        # below 2**62 for indices and moduli below 2**40.
        i = np.asarray(index, dtype=np.int64) % self.modulus
        high, low = divmod(self.multiplier, 1 << 20)
        product = ((high * i) % self.modulus * (1 << 20)) % self.modulus
        product = (product + low * i) % self.modulus
        return np.asarray((product + self.offset) % self.modulus, dtype=np.int64)


def _digit_sum(values: IntArray, weights: list[int]) -> IntArray:
    """Weighted sum of the decimal digits; weights[0] applies to the least significant digit."""
    total = np.zeros(values.shape, dtype=np.int64)
    rest = values.copy()
    for weight in weights:
        total += (rest % 10) * weight
        rest //= 10
    return total


def bsn_from_index(index: IntArray, permutation: Permutation) -> IntArray:
    """Distinct valid BSNs (eleven-test) for distinct indices below `BSN_CAPACITY`.

    The k-th valid number is built directly instead of drawn and filtered: seven free digits,
    then an eighth digit chosen among the nine that leave a check digit 0-9, then the check digit.
    """
    k = permutation(index)
    prefix = 1_000_000 + k // 9
    choice = k % 9
    # Weights 9..3 on the seven prefix digits (most significant first).
    partial = _digit_sum(prefix, [3, 4, 5, 6, 7, 8, 9])
    # The eighth digit (weight 2) that would make the remainder 10: skip it.
    forbidden = ((10 - partial) * _INVERSE_OF_2_MOD_11) % 11
    eighth = np.where(choice < forbidden, choice, choice + 1)
    check = (partial + 2 * eighth) % 11
    return np.asarray(prefix * 100 + eighth * 10 + check, dtype=np.int64)


def gtin14(body: IntArray) -> IntArray:
    """Append the GS1 check digit to 13-digit bodies."""
    weights = [3 if position % 2 == 0 else 1 for position in range(13)]
    check = (10 - _digit_sum(body, weights) % 10) % 10
    return np.asarray(body * 10 + check, dtype=np.int64)


def digits(values: IntArray, width: int) -> pl.Series:
    """Zero-padded decimal strings of a fixed width, for values below 10**width."""
    # Adding a leading 1 and cutting it off is several times faster than str.zfill.
    padded: pl.Series = pl.Series(values, dtype=pl.Int64) + 10**width
    return padded.cast(pl.String).str.slice(1)


def bump_last_digit(column: pl.Expr, shift: pl.Expr) -> pl.Expr:
    """Replace the last digit d by (d + shift) mod 10; with shift in 1..9 the check fails.

    For a BSN and a GTIN alike, two numbers that differ only in the check digit cannot both be
    valid, so the result is guaranteed to fail its check.
    """
    last = column.str.slice(-1, 1).cast(pl.Int64)
    head = column.str.slice(0, column.str.len_chars() - 1)
    return pl.concat_str([head, ((last + shift) % 10).cast(pl.String)])
