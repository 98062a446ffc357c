"""The comparison scenarios again, with the held rows fetched the way a large upload fetches them.

An upload whose keys are a sizeable share of the table (the benchmark's million records) reads
the table's key columns in one pass and matches them in Polars instead of joining staged keys
(`HeldRows.prefetch`, PostgreSQL only). Small test files never get there by themselves, so the
thresholds are lowered here and the scenarios of the other modules run through that path too.
"""

from __future__ import annotations

from collections.abc import Iterator

import polars as pl
import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.registry.test_multi_table_and_groups import *  # noqa: F403
from tests.registry.test_nhr_registry import *  # noqa: F403
from zorgbroker.registry import importer
from zorgbroker.registry.comparisons import Lookup


@pytest.fixture(autouse=True)
def _always_one_pass(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setattr(importer, "SCAN_FROM_KEYS", 0)
    monkeypatch.setattr(importer, "SCAN_FROM_SHARE", 0.0)
    yield


@given(
    held=st.lists(
        st.tuples(
            st.sampled_from([None, "A", "B", "C", "D"]), st.sampled_from([None, "A", "B", "E"])
        ),
        max_size=30,
    ),
    keys=st.lists(st.sampled_from(["A", "B", "C", "X"]), unique=True, max_size=4),
    other=st.lists(st.sampled_from(["A", "E"]), unique=True, max_size=2),
)
def test_lookups_sharing_their_keys_match_what_each_would_match_alone(
    held: list[tuple[str | None, str | None]], keys: list[str], other: list[str]
):
    # Lead serials: one key set looked up in two columns (matched in one stacked join), beside a
    # lookup of its own and a two-column one.
    frame = pl.DataFrame(
        {"_id": list(range(len(held))), "lead1": [a for a, _ in held],
         "lead2": [b for _, b in held]},
        schema={"_id": pl.Int64, "lead1": pl.String, "lead2": pl.String},
    )  # fmt: skip
    shared = pl.Series("k", keys, dtype=pl.String)
    lookups = [
        Lookup(("lead1",), shared.alias("lead1").to_frame()),
        Lookup(("lead2",), shared.alias("lead2").to_frame()),
        Lookup(("lead2",), pl.Series("lead2", other, dtype=pl.String).to_frame()),
        Lookup(("lead1", "lead2"), pl.DataFrame({"lead1": ["A"], "lead2": ["B"]})),
    ]
    found = importer.matching_ids(frame, lookups)
    for lookup in lookups:
        alone = frame.join(lookup.keys, on=list(lookup.columns), how="semi")["_id"]
        assert sorted(found[id(lookup)].to_list()) == sorted(alone.to_list())
