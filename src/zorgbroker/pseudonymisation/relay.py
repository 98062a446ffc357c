"""The registry's part of pseudonymising a stage-1 file: it relays each stage-1 pseudonym (and,
for a re-identifiable registry, the sealed BSN beside it) to the TTP and keeps the final
pseudonym. It holds no key and computes nothing from an identifier: it never sees one."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager
from pathlib import Path

import polars as pl

from zorgbroker.pseudonymisation.client import TTPClient
from zorgbroker.pseudonymisation.custody import zorgbroker_home
from zorgbroker.pseudonymisation.method import check_registry_name
from zorgbroker.pseudonymisation.pipeline import (
    Mode,
    ThrowawayTTP,
    key_fingerprints,
    production_ttp,
    storing_in_background,
)


class Stage1Relay:
    def __init__(
        self, *, mode: Mode, registry: str, source: str, source_key_fingerprint: str, ttp: TTPClient
    ) -> None:
        self.mode = mode
        self.registry = check_registry_name(registry)
        self.source = source
        self.source_key_fingerprint = source_key_fingerprint
        self.ttp = ttp

    @classmethod
    def for_mode(
        cls,
        mode: Mode,
        *,
        registry: str,
        source: str,
        source_key_fingerprint: str,
        home: Path | None = None,
        ttp: TTPClient | None = None,
    ) -> Stage1Relay:
        """Test mode: a throw-away stage-2 key (nothing stored, logged or sealed). Production:
        the given TTP client, else the TTP service or the embedded TTP, as for `Pseudonymiser`."""
        if mode == "test":
            chosen: TTPClient = ThrowawayTTP()
        else:
            chosen = ttp or production_ttp(home or zorgbroker_home())
        return cls(
            mode=mode,
            registry=registry,
            source=source,
            source_key_fingerprint=source_key_fingerprint,
            ttp=chosen,
        )

    def pseudonymise_field(
        self, table: str, field: str, stage1: pl.Series, sealed: pl.Series | None = None
    ) -> pl.Series:
        """Final pseudonyms of a column of stage-1 pseudonyms, row for row (null stays null).
        The TTP refuses anything that is not a stage-1 pseudonym."""
        if self.mode == "test":
            sealed = None  # a test upload stores nothing at the TTP
        return self.ttp.pseudonymise(
            self.registry, stage1, source=self.source, sealed=sealed
        ).alias(stage1.name)

    def storing_in_background(self) -> AbstractContextManager[Callable[[], None]]:
        """As `Pseudonymiser.storing_in_background`: the embedded TTP may store its
        re-identification rows on a thread while the registry imports; call `settle` first."""
        return storing_in_background(self.ttp)

    def fingerprints(self) -> dict[str, str]:
        """What the report shows about the keys: the source key's fingerprint as the stage-1
        file's manifest names it (the registry never holds that key), the registry key's as the
        TTP reports it."""
        return key_fingerprints(
            self.ttp,
            mode=self.mode,
            registry=self.registry,
            source_key=self.source_key_fingerprint,
        )
