"""Identifiers built with numpy: valid check digits, no repeats, and faults that always fail."""

from __future__ import annotations

import numpy as np
import polars as pl
from hypothesis import given, settings
from hypothesis import strategies as st
from stdnum import ean
from stdnum.nl import bsn

from zorgbroker.intake.generate.numbers import (
    BSN_CAPACITY,
    Permutation,
    bsn_from_index,
    bump_last_digit,
    digits,
    gtin14,
)


def permutation(seed: int, modulus: int) -> Permutation:
    return Permutation.draw(np.random.default_rng(seed), modulus)


@given(st.integers(0, 2**32 - 1), st.integers(0, BSN_CAPACITY - 2_000))
@settings(max_examples=40, deadline=None)
def test_bsns_pass_the_eleven_test_and_never_repeat(seed: int, start: int) -> None:
    index = np.arange(start, start + 2_000, dtype=np.int64)
    numbers = digits(bsn_from_index(index, permutation(seed, BSN_CAPACITY)), 9).to_list()
    assert all(bsn.is_valid(n) for n in numbers)
    assert len(set(numbers)) == len(numbers)


def test_the_whole_bsn_range_is_a_bijection_of_a_small_window() -> None:
    # Every valid number with a given seven-digit start is produced exactly once: nine of them.
    p = Permutation(multiplier=1, offset=0, modulus=BSN_CAPACITY)
    numbers = digits(bsn_from_index(np.arange(0, 9 * 1000, dtype=np.int64), p), 9).to_list()
    assert len(set(numbers)) == 9000
    assert all(bsn.is_valid(n) for n in numbers)


@given(st.integers(0, 2**32 - 1), st.sampled_from([10, 90, 1000, 9 * 10**4, 10**5]))
@settings(max_examples=30, deadline=None)
def test_a_permutation_hits_every_value_once(seed: int, modulus: int) -> None:
    values = permutation(seed, modulus)(np.arange(modulus, dtype=np.int64))
    assert np.array_equal(np.sort(values), np.arange(modulus))


def test_permutation_of_large_indices_does_not_overflow() -> None:
    p = permutation(1, 10**10)
    index = np.asarray([0, 1, 10**9, 5 * 10**9, 10**10 - 1], dtype=np.int64)
    values = p(index)
    assert values.min() >= 0
    assert values.max() < 10**10
    assert len(set(values.tolist())) == len(index)


@given(st.lists(st.integers(0, 10**13 - 1), min_size=1, max_size=50))
# The first call pays for a cold start, which can exceed any deadline on a busy machine.
@settings(deadline=None)
def test_gtin14_check_digits_are_those_of_gs1(bodies: list[int]) -> None:
    numbers = digits(gtin14(np.asarray(bodies, dtype=np.int64)), 14).to_list()
    assert all(ean.is_valid(n) for n in numbers)


@given(st.integers(0, 2**32 - 1), st.integers(1, 9))
@settings(max_examples=30, deadline=None)
def test_bumping_the_check_digit_always_breaks_it(seed: int, shift: int) -> None:
    index = np.arange(0, 500, dtype=np.int64)
    good = digits(bsn_from_index(index, permutation(seed, BSN_CAPACITY)), 9)
    gtins = digits(gtin14(np.arange(10**12, 10**12 + 500, dtype=np.int64)), 14)
    frame = pl.DataFrame({"bsn": good, "gtin": gtins})
    broken = frame.select(
        bump_last_digit(pl.col("bsn"), pl.lit(shift)),
        bump_last_digit(pl.col("gtin"), pl.lit(shift)),
    )
    assert not any(bsn.is_valid(n) for n in broken["bsn"].to_list())
    assert not any(ean.is_valid(n) for n in broken["gtin"].to_list())
    assert broken["bsn"].str.len_chars().unique().to_list() == [9]
