"""How a registry reaches the TTP: one interface, in process or over HTTP.

The embedded default (`LocalTTP`) runs the TTP inside the registry's process but with its own
state folder; `HttpTTP` talks to `zorgbroker ttp serve`. Both take stage-1 pseudonyms only.
"""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Any, NoReturn, Protocol, runtime_checkable

import httpx
import polars as pl

from zorgbroker.pseudonymisation.errors import (
    BatchRejected,
    BatchTooLarge,
    Forbidden,
    NotAuthorised,
    RateLimited,
    ReidentificationRefused,
    TTPError,
    TTPUnavailable,
)
from zorgbroker.pseudonymisation.ttp import KeyInfo, TrustedThirdParty
from zorgbroker.pseudonymisation.wire import (
    CONTENT_TYPE,
    SOURCE_HEADER,
    decode_pseudonyms,
    encode_batch,
    encode_pseudonyms,
)

__all__ = ["HttpTTP", "KeyInfo", "LocalTTP", "TTPClient", "WrappedKeySource"]


@runtime_checkable
class TTPClient(Protocol):
    def pseudonymise(
        self,
        registry: str,
        stage1: pl.Series,
        *,
        source: str,
        sealed: pl.Series | None = None,
    ) -> pl.Series:
        """Final labelled pseudonyms for stage-1 pseudonyms (hex), row for row; nulls stay null.
        `sealed` carries the sealed BSNs for a re-identifiable registry."""
        ...

    def key_info(self, registry: str) -> KeyInfo:
        """Current key version and fingerprint for a registry (for the report)."""
        ...

    def seal_public_key(self) -> bytes:
        """The TTP's X25519 public key that sources seal BSNs to."""
        ...


@runtime_checkable
class WrappedKeySource(Protocol):
    """What the registry's portal relays to a source user's browser (docs/pseudonymisation.md,
    section 9): the user's wrapped source key as JSON, or None when the TTP has none for exactly
    this user, organisation and registry."""

    def wrapped_source_key(
        self, email: str, organisation: str, registry: str
    ) -> dict[str, Any] | None: ...


class LocalTTP:
    """The TTP in process; its state lives in `home / "ttp"` (home is ZORGBROKER_HOME)."""

    def __init__(self, home: Path) -> None:
        self.ttp = TrustedThirdParty(home)

    def pseudonymise(
        self,
        registry: str,
        stage1: pl.Series,
        *,
        source: str,
        sealed: pl.Series | None = None,
    ) -> pl.Series:
        return self.ttp.pseudonymise(registry, stage1, source=source, sealed=sealed)

    def pseudonymise_in_process(
        self, registry: str, stage1: pl.Series, *, source: str, bsns: pl.Series
    ) -> pl.Series:
        """As `pseudonymise`, with the normalised BSNs themselves instead of sealed ones.

        The seal keeps BSNs unread on their way from the source to the TTP through the
        registry. When the source's stage 1, the registry and the TTP run in one process (the
        embedded installation), there is no such path to protect: sealing and opening a million BSNs
        there only cost about 2.6 s of the upload.
        """
        return self.ttp.pseudonymise(registry, stage1, source=source, bsns=bsns)

    def key_info(self, registry: str) -> KeyInfo:
        return self.ttp.key_info(registry)

    def seal_public_key(self) -> bytes:
        return self.ttp.seal_public_key()

    def rekey(
        self, registry: str, stage1: pl.Series, *, source: str, from_version: int
    ) -> pl.DataFrame:
        return self.ttp.rekey(registry, stage1, source=source, from_version=from_version)

    def wrapped_source_key(
        self, email: str, organisation: str, registry: str
    ) -> dict[str, Any] | None:
        from zorgbroker.pseudonymisation.enrolment import SourceKeyCustody

        found = SourceKeyCustody(self.ttp).wrapped_key(
            email, organisation, registry, asked_by="in-proces"
        )
        return None if found is None else found.to_json()


_ERRORS: dict[int, type[TTPError]] = {
    401: NotAuthorised,
    403: Forbidden,
    409: ReidentificationRefused,
    413: BatchTooLarge,
    422: BatchRejected,
    429: RateLimited,
}


class HttpTTP:
    """Client of `zorgbroker ttp serve`. The token is the one `zorgbroker ttp source-add` gave
    this source organisation; batches go out in chunks of `batch_size` items."""

    def __init__(
        self, base_url: str, token: str, *, batch_size: int = 50_000, timeout: float = 120.0
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.batch_size = batch_size
        self._http = httpx.Client(
            base_url=self.base_url,
            headers={"Authorization": f"Bearer {token}"},
            timeout=timeout,
        )

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> HttpTTP:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def _send(self, method: str, url: str, **kwargs: object) -> httpx.Response:
        try:
            response = self._http.request(method, url, **kwargs)  # type: ignore[arg-type]
        except httpx.HTTPError:
            raise TTPUnavailable(f"De TTP op {self.base_url} is niet bereikbaar.") from None
        if response.status_code != 200:
            self._raise_for(response)
        return response

    @staticmethod
    def _raise_for(response: httpx.Response) -> NoReturn:
        try:
            message = str(response.json()["detail"])
        except (ValueError, KeyError, TypeError):
            message = f"De TTP antwoordde met status {response.status_code}."
        raise _ERRORS.get(response.status_code, TTPError)(message)

    def pseudonymise(
        self,
        registry: str,
        stage1: pl.Series,
        *,
        source: str,
        sealed: pl.Series | None = None,
    ) -> pl.Series:
        stage1 = stage1.cast(pl.String)
        present = stage1.is_not_null()
        positions = present.arg_true()
        items = stage1.gather(positions)
        sealed_items = None if sealed is None else sealed.cast(pl.String).gather(positions)
        parts: list[pl.Series] = []
        for start in range(0, len(items), self.batch_size):
            chunk = items.slice(start, self.batch_size)
            sealed_chunk = (
                None if sealed_items is None else sealed_items.slice(start, self.batch_size)
            )
            response = self._send(
                "POST",
                f"/v1/registries/{registry}/pseudonyms",
                content=encode_batch(chunk, sealed_chunk),
                headers={"Content-Type": CONTENT_TYPE, SOURCE_HEADER: source},
            )
            parts.append(decode_pseudonyms(response.content, len(chunk)))
        result = pl.concat(parts) if parts else pl.Series([], dtype=pl.String)
        if len(positions) == len(stage1):
            return result.alias(stage1.name)
        full = pl.repeat(None, len(stage1), dtype=pl.String, eager=True)
        return full.scatter(positions, result).alias(stage1.name)

    def key_info(self, registry: str) -> KeyInfo:
        data = self._send("GET", f"/v1/registries/{registry}/key").json()
        return KeyInfo(str(data["registry"]), str(data["version"]), str(data["fingerprint"]))

    def seal_public_key(self) -> bytes:
        data = self._send("GET", "/v1/seal-public-key").json()
        return base64.b64decode(str(data["x25519"]))

    def wrapped_source_key(
        self, email: str, organisation: str, registry: str
    ) -> dict[str, Any] | None:
        try:
            response = self._http.get(
                f"/v1/registries/{registry}/source-keys",
                params={"email": email, "organisation": organisation},
            )
        except httpx.HTTPError:
            raise TTPUnavailable(f"De TTP op {self.base_url} is niet bereikbaar.") from None
        if response.status_code == 404:
            return None
        if response.status_code != 200:
            self._raise_for(response)
        data: dict[str, Any] = response.json()
        return data

    def rekey(
        self, registry: str, stage1: pl.Series, *, source: str, from_version: int
    ) -> pl.DataFrame:
        response = self._send(
            "POST",
            f"/v1/registries/{registry}/rekey",
            params={"from_version": from_version},
            content=encode_pseudonyms(stage1.cast(pl.String)),
            headers={"Content-Type": CONTENT_TYPE, SOURCE_HEADER: source},
        )
        lines = decode_pseudonyms(response.content, len(stage1))
        parts = lines.str.split_exact("\t", 1).struct.unnest()
        return parts.rename(dict(zip(parts.columns, ["old", "new"], strict=True)))
