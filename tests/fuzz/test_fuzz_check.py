"""Small fuzz run: `check` on a few hundred mutated generated files; nothing may escape it and
no input may take longer than 20 s. The large run is `bench/bench_fuzz_check.py`."""

from __future__ import annotations

import random
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.fuzz.mutations import MAX_SECONDS, SEEDS, Input, make_seeds, mutate, run_check

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def seeds(tmp_path_factory: pytest.TempPathFactory) -> list[Input]:
    return make_seeds(tmp_path_factory.mktemp("seeds"))


@settings(
    max_examples=300,
    deadline=None,  # the 20 s limit is asserted on the check itself, not on the mutations
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    which=st.integers(0, len(SEEDS) - 1),
    steps=st.integers(1, 3),
    state=st.integers(0, 2**32 - 1),
)
def test_check_survives_mutated_inputs(
    seeds: list[Input], tmp_path: Path, which: int, steps: int, state: int
) -> None:
    upload, applied = mutate(random.Random(state), seeds[which], steps)
    result = run_check(upload, tmp_path)
    assert result.failure is None, f"{applied} on seed {which}:\n{result.failure}"
    assert result.seconds < MAX_SECONDS, f"{applied} on seed {which}: {result.seconds:.1f} s"


def test_the_seeds_are_read_without_file_rejection(seeds: list[Input], tmp_path: Path) -> None:
    """The unmutated files pass, so the mutations are what the harness tests."""
    for upload in seeds:
        result = run_check(upload, tmp_path)
        assert result.failure is None
        assert not any(code.startswith("BF") for code in result.codes), upload.suffix
