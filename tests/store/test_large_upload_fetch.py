"""The comparison scenarios again, with the held rows fetched the way a large upload fetches them.

An upload whose keys are a sizeable share of the table (the benchmark's million records) reads
the table's key columns in one pass and matches them in Polars instead of joining staged keys
(`HeldRows.prefetch`, PostgreSQL only). Small test files never get there by themselves, so the
thresholds are lowered here and the scenarios of the other modules run through that path too.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.store.test_multi_table_and_groups import *  # noqa: F403
from tests.store.test_nhr_registry import *  # noqa: F403
from zorgbroker.store import importer


@pytest.fixture(autouse=True)
def _always_one_pass(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setattr(importer, "SCAN_FROM_KEYS", 0)
    monkeypatch.setattr(importer, "SCAN_FROM_SHARE", 0.0)
    yield
