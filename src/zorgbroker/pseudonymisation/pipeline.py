"""The whole pseudonymisation of an upload, as the intake engine uses it: normalise, eleven-test,
stage 1 at the source, sealing for a re-identifiable registry, stage 2 at the TTP."""

from __future__ import annotations

import os
import secrets
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import Literal

import polars as pl

from zorgbroker.pseudonymisation.bsn import normalise_bsn
from zorgbroker.pseudonymisation.client import HttpTTP, LocalTTP, TTPClient
from zorgbroker.pseudonymisation.custody import KEY_BYTES, source_key, zorgbroker_home
from zorgbroker.pseudonymisation.method import (
    BSN_LABEL,
    METHOD_VERSION,
    TEST_KEY_VERSION,
    check_registry_name,
    fingerprint,
    is_reidentifiable,
    pseudonym_prefix,
)
from zorgbroker.pseudonymisation.sealing import seal_bsns
from zorgbroker.pseudonymisation.source import normalise_text_expr, stage1
from zorgbroker.pseudonymisation.stage2 import stage2
from zorgbroker.pseudonymisation.ttp import KeyInfo

Mode = Literal["test", "production"]


def _nothing_to_settle() -> None:
    return None


class ThrowawayTTP:
    """Stage 2 with a random key that lives only as long as this object: test uploads get
    pseudonyms that cannot be linked to any other upload, and nothing is stored or logged."""

    def __init__(self) -> None:
        self._key = secrets.token_bytes(KEY_BYTES)

    def pseudonymise(
        self,
        registry: str,
        stage1: pl.Series,
        *,
        source: str,
        sealed: pl.Series | None = None,
    ) -> pl.Series:
        return stage2(stage1, key=self._key, prefix=pseudonym_prefix(registry, TEST_KEY_VERSION))

    def key_info(self, registry: str) -> KeyInfo:
        return KeyInfo(registry, TEST_KEY_VERSION, fingerprint(self._key))

    def seal_public_key(self) -> bytes:
        raise RuntimeError("Een testaanlevering verzegelt geen BSN's.")


def production_ttp(home: Path) -> TTPClient:
    """The TTP service named by ZORGBROKER_TTP_URL (with ZORGBROKER_TTP_TOKEN), else the
    embedded TTP in `home / "ttp"`."""
    url = os.environ.get("ZORGBROKER_TTP_URL")
    if url:
        return HttpTTP(url, os.environ.get("ZORGBROKER_TTP_TOKEN", ""))
    return LocalTTP(home)


@contextmanager
def storing_in_background(ttp: TTPClient) -> Iterator[Callable[[], None]]:
    """Within this block the embedded TTP writes its re-identification store on a thread of its
    own (see `TrustedThirdParty.storing_in_background`); the block gives the `settle` function
    to call before relying on it. A TTP service stores before it answers, and a test upload
    stores nothing: for those `settle` has nothing to wait for."""
    if isinstance(ttp, LocalTTP):
        with ttp.ttp.storing_in_background() as settle:
            yield settle
    else:
        yield _nothing_to_settle


def key_fingerprints(
    ttp: TTPClient, *, mode: Mode, registry: str, source_key: str
) -> dict[str, str]:
    """What a report shows about the keys of an upload: the source key's fingerprint as given,
    the registry key's version and fingerprint as the TTP reports them; never a key."""
    info = ttp.key_info(registry)
    return {
        "method": METHOD_VERSION,
        "mode": mode,
        "registry": registry,
        "source_key": source_key,
        "registry_key_version": info.version,
        "registry_key": info.fingerprint,
    }


class Pseudonymiser:
    def __init__(
        self, *, mode: Mode, registry: str, source: str, source_key: bytes, ttp: TTPClient
    ) -> None:
        self.mode = mode
        self.registry = check_registry_name(registry)
        self.source = source
        self._source_key = source_key
        self.ttp = ttp
        self._seal_public_key: bytes | None = None

    @classmethod
    def for_mode(
        cls,
        mode: Mode,
        *,
        registry: str,
        source: str,
        home: Path | None,
        ttp: TTPClient | None = None,
    ) -> Pseudonymiser:
        """Test mode: random source and registry keys made here and never stored. Production:
        the project key of `registry` under `$ZORGBROKER_HOME/source/`, the TTP under
        `$ZORGBROKER_HOME/ttp/` (or the service named by ZORGBROKER_TTP_URL), unless a `ttp`
        client is given."""
        if mode == "test":
            return cls(
                mode=mode,
                registry=registry,
                source=source,
                source_key=secrets.token_bytes(KEY_BYTES),
                ttp=ThrowawayTTP(),
            )
        home = home or zorgbroker_home()
        return cls(
            mode=mode,
            registry=registry,
            source=source,
            source_key=source_key(home, registry),
            ttp=ttp or production_ttp(home),
        )

    def stage1(self, bsn: pl.Series) -> pl.Series:
        """Stage-1 pseudonyms of raw BSNs; null where missing or failing the eleven-test."""
        return self._stage1_of_normal(normalise_bsn(bsn))

    def _stage1_of_normal(self, normal: pl.Series) -> pl.Series:
        return stage1(normal, key=self._source_key, label=BSN_LABEL)

    def seal(self, bsn: pl.Series, p1: pl.Series) -> pl.Series | None:
        """Sealed BSNs for the TTP's re-identification store (production, re-identifiable
        registries only); None otherwise."""
        return self._seal_normal(normalise_bsn(bsn), p1)

    def _seal_normal(self, normal: pl.Series, p1: pl.Series) -> pl.Series | None:
        if self.mode != "production" or not is_reidentifiable(self.registry):
            return None
        if self._seal_public_key is None:
            self._seal_public_key = self.ttp.seal_public_key()
        return seal_bsns(normal, p1, ttp_public_key=self._seal_public_key, registry=self.registry)

    def pseudonymise(self, bsn: pl.Series) -> pl.Series:
        """Final pseudonyms of raw BSNs, row for row; null where the BSN is missing or fails the
        eleven-test (the engine reports those rows)."""
        normal = normalise_bsn(bsn)  # once, for stage 1 and sealing alike
        p1 = self._stage1_of_normal(normal)
        if isinstance(self.ttp, LocalTTP) and self.mode == "production":
            return self.ttp.pseudonymise_in_process(
                self.registry, p1, source=self.source, bsns=normal
            ).alias(bsn.name)
        return self.ttp.pseudonymise(
            self.registry, p1, source=self.source, sealed=self._seal_normal(normal, p1)
        ).alias(bsn.name)

    def pseudonymise_text(self, values: pl.Series, *, label: str) -> pl.Series:
        """Final pseudonyms of another identifying text field (e.g. a therapist's surname),
        normalised first; the label keeps them apart from BSN pseudonyms."""
        normal = pl.select(normalise_text_expr(pl.lit(values).cast(pl.String))).to_series()
        p1 = stage1(normal, key=self._source_key, label=label)
        return self.ttp.pseudonymise(self.registry, p1, source=self.source).alias(values.name)

    def pseudonymise_field(self, table: str, field: str, values: pl.Series) -> pl.Series:
        """The intake engine's callback: a BSN field by the BSN method, any other identifying
        field as text labelled with its field name."""
        if field == BSN_LABEL:
            return self.pseudonymise(values)
        return self.pseudonymise_text(values, label=field)

    def storing_in_background(self) -> AbstractContextManager[Callable[[], None]]:
        """Within this block the embedded TTP writes its re-identification store on a thread of
        its own (see `storing_in_background`); the block gives the `settle` function to call
        before relying on it."""
        return storing_in_background(self.ttp)

    def fingerprints(self) -> dict[str, str]:
        """What the report shows about the keys used: never the keys themselves."""
        return key_fingerprints(
            self.ttp,
            mode=self.mode,
            registry=self.registry,
            source_key=fingerprint(self._source_key),
        )
