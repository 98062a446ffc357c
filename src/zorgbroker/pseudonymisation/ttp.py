"""The trusted third party itself: stage 2, the re-identification store and the four-eyes
re-identification procedure, with every action in the audit log.

Both the HTTP service and the in-process client drive this class; it keeps all its state (keys,
database, audit log, answers for hospitals) in its own folder, `$ZORGBROKER_HOME/ttp/`.
"""

from __future__ import annotations

import csv
import os
import re
import threading
from collections import defaultdict
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import polars as pl
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESSIV

from zorgbroker.pseudonymisation.audit import AuditLog
from zorgbroker.pseudonymisation.bsn import bsn_is_valid
from zorgbroker.pseudonymisation.custody import TTPKeys, private_dir, ttp_dir
from zorgbroker.pseudonymisation.errors import (
    BatchRejected,
    Forbidden,
    NotAuthorised,
    ReidentificationRefused,
)
from zorgbroker.pseudonymisation.method import (
    KNOWN_METHOD_VERSIONS,
    check_registry_name,
    fingerprint,
    is_reidentifiable,
    key_version_name,
    pseudonym_prefix,
)
from zorgbroker.pseudonymisation.sealing import SealError, SealOpener
from zorgbroker.pseudonymisation.siv_batch import BatchSIV, as_rows, binary_rows, encrypt_each
from zorgbroker.pseudonymisation.stage2 import first_invalid_stage1, stage2, stage2_raw
from zorgbroker.pseudonymisation.ttp_store import (
    REQUIRED_APPROVALS,
    DecisionError,
    PackedRows,
    Request,
    TTPStore,
)

_METHODS = "|".join(KNOWN_METHOD_VERSIONS)
_LABELLED = re.compile(rf"(?:{_METHODS}):([a-z][a-z0-9-]{{0,31}}):k([1-9][0-9]*):([0-9a-f]{{64}})")

_DECISION_MESSAGES = {
    "onbekend": "Onbekend heridentificatieverzoek.",
    "eigen-verzoek": "Wie een verzoek indient, mag het niet zelf goedkeuren of afwijzen.",
    "al-beslist": "Deze functionaris heeft al over dit verzoek beslist; er is een tweede, "
    "andere functionaris nodig.",
}


@dataclass(frozen=True)
class KeyInfo:
    registry: str
    version: str  # e.g. "k1", or "test" for a throw-away key
    fingerprint: str

    @property
    def prefix(self) -> str:
        return pseudonym_prefix(self.registry, self.version)


@dataclass(frozen=True)
class Resolution:
    request_id: str
    #: Re-identified patients per source organisation (the hospital the answer is addressed to).
    per_source: dict[str, int]
    not_found: int
    folder: Path
    files: list[Path] = field(default_factory=list)


def _check_registry(registry: str) -> str:
    try:
        return check_registry_name(registry)
    except ValueError as error:
        raise BatchRejected(str(error)) from None


#: Bytes of a stage-2 digest (HMAC-SHA256).
_DIGEST_BYTES = 32


def _count(rows: PackedRows | tuple[list[str], list[bytes]] | None) -> int:
    if rows is None:
        return 0
    return rows.count if isinstance(rows, PackedRows) else len(rows[0])


class TrustedThirdParty:
    def __init__(self, home: Path) -> None:
        self.home = home
        self.root = ttp_dir(home)
        self.keys = TTPKeys(self.root)
        self.store = TTPStore(self.root / "ttp.sqlite")
        self._audit: AuditLog | None = None
        #: While `storing_in_background` is active: the thread that writes the
        #: re-identification store, and what it has been given to write.
        self._writer: ThreadPoolExecutor | None = None
        self._writer_owner = 0
        self._writes: list[Future[None]] = []

    # --- storing while the caller goes on ---

    @contextmanager
    def storing_in_background(self) -> Iterator[Callable[[], None]]:
        """Within this block, `pseudonymise` hands the re-identification store's rows (and the
        audit entry that follows them) to a thread of their own and returns at once.

        The in-process registry uses this: writing a million rows to the store takes seconds
        of SQLite, which can go on while the registry compares and imports the upload (mostly
        waiting on its own database). The block gives a `settle` function that waits for every
        write given so far and raises the first failure. Whoever relies on the pseudonyms being
        re-identifiable (the registry, before it commits its import) must call it first; the
        end of the block waits too.
        """
        if self._writer is not None:
            yield self.settle  # already inside such a block
            return
        self._writer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="zb-ttp-store")
        self._writer_owner = threading.get_ident()
        try:
            yield self.settle
            self.settle()
        finally:
            writer, self._writer = self._writer, None
            writer.shutdown(wait=True)
            self._writes.clear()

    def settle(self) -> None:
        """Wait for the store writes given to the background so far; raise the first failure."""
        writes, self._writes = self._writes, []
        failure: BaseException | None = None
        for write in writes:
            error = write.exception()
            if error is not None and failure is None:
                failure = error
        if failure is not None:
            raise failure

    # --- setting up ---

    def init(self, registries: Sequence[str] = ()) -> bool:
        """Create the folder, base keys, database and log; idempotent. True when newly created."""
        fresh = not (self.root / "ttp.sqlite").exists()
        private_dir(self.root)
        self.keys.init()
        self.store.create()
        if fresh:
            self.audit.append("ttp-aangemaakt", "ttp", {"map": str(self.root)})
        for registry in registries:
            self.key_info(registry)
        return fresh

    def _ready(self) -> None:
        if self._audit is None:
            self.init()

    def ready(self) -> None:
        """Set up on first use only (`init` once per object)."""
        self._ready()

    @property
    def audit(self) -> AuditLog:
        if self._audit is None:
            private_dir(self.root)
            self._audit = AuditLog(self.root, self.keys.audit_key())
        return self._audit

    def _registry_key(self, registry: str, version: int | None = None) -> tuple[int, bytes]:
        number, key, created = self.keys.registry_key(registry, version)
        if created:
            self.audit.append(
                "sleutel-aangemaakt",
                "ttp",
                {
                    "register": registry,
                    "versie": key_version_name(number),
                    "vingerafdruk": fingerprint(key),
                },
            )
        return number, key

    def key_info(self, registry: str) -> KeyInfo:
        self._ready()
        version, key = self._registry_key(_check_registry(registry))
        return KeyInfo(registry, key_version_name(version), fingerprint(key))

    def seal_public_key(self) -> bytes:
        self._ready()
        return self.keys.seal_public_key()

    def fingerprints(self) -> dict[str, str]:
        """Every key the TTP holds, by file name, with its fingerprint."""
        self._ready()
        return {path.stem: fingerprint(path.read_bytes()) for path in self.keys.key_files()}

    # --- stage 2 ---

    def authenticate(self, token: str) -> str:
        """The source organisation a service token belongs to."""
        self._ready()
        org = self.store.source_for_token(token)
        if org is None:
            raise NotAuthorised("Onbekend of ongeldig toegangstoken.")
        return org

    def pseudonymise(
        self,
        registry: str,
        stage1: pl.Series,
        *,
        source: str,
        sealed: pl.Series | None = None,
        bsns: pl.Series | None = None,
    ) -> pl.Series:
        """Labelled final pseudonyms for a batch of stage-1 pseudonyms; nulls stay null.

        For a re-identifiable registry every non-null item needs its sealed BSN; the TTP keeps
        AES-SIV(K_reid, BSN) under the new pseudonym and never returns the BSN. `bsns` instead
        of `sealed`: the normalised BSNs themselves, from a source in this very process
        (`client.LocalTTP.pseudonymise_in_process`).
        """
        self._ready()
        registry = _check_registry(registry)
        stage1 = stage1.cast(pl.String)
        try:
            if bsns is not None and sealed is not None:
                raise ValueError("sealed or plain BSNs, not both")
            opened = self._validate(registry, stage1, sealed, bsns)
        except BatchRejected as error:
            self.audit.append(
                "batch-geweigerd",
                f"bron:{source}",
                {"register": registry, "aantal": len(stage1), "reden": error.message},
            )
            raise
        version, key = self._registry_key(registry)
        prefix = pseudonym_prefix(registry, key_version_name(version))
        labelled = stage2(stage1, key=key, prefix=prefix)
        rows: PackedRows | tuple[list[str], list[bytes]] | None = None
        if opened is not None:
            positions, plain = opened
            names = labelled.gather(positions).str.slice(len(prefix))
            rows = self._reid_rows(registry, names, plain)
        details = {
            "register": registry,
            "aantal": len(stage1) - stage1.null_count(),
            "sleutelversie": key_version_name(version),
            "vingerafdruk": fingerprint(key),
            "heridentificeerbaar_opgeslagen": _count(rows),
        }

        def store_and_log() -> None:
            # The audit entry follows the rows it counts: it is only written once they are.
            if isinstance(rows, PackedRows):
                self.store.store_packed(registry, version, source, rows)
            elif rows is not None:
                self.store.store_sealed_in_order(registry, version, source, *rows)
            self.audit.append("pseudonimisering", f"bron:{source}", details)

        if self._writer is None or self._writer_owner != threading.get_ident():
            store_and_log()  # only the thread that opened the block hands writes over
        else:
            self._writes.append(self._writer.submit(store_and_log))
        return labelled.alias(stage1.name)

    def _validate(
        self,
        registry: str,
        stage1: pl.Series,
        sealed: pl.Series | None,
        bsns: pl.Series | None = None,
    ) -> tuple[pl.Series, pl.Series] | None:
        """The BSNs of a re-identifiable registry's batch, with their positions in it: opened
        from `sealed`, or `bsns` as a source in this process handed them over. Either way they
        pass the same checks."""
        invalid = first_invalid_stage1(stage1, allow_nulls=True)
        if invalid is not None:
            raise BatchRejected(invalid.message())
        if not is_reidentifiable(registry):
            if sealed is not None and sealed.null_count() < len(sealed):
                raise BatchRejected(
                    f"Register {registry} is niet herleidbaar: stuur geen verzegelde BSN's mee."
                )
            return None  # nothing is kept, so BSNs handed over are simply not used
        given, what = (sealed, "verzegelde BSN") if bsns is None else (bsns, "BSN")
        if given is None:
            return None  # e.g. a surname pseudonym: nothing to keep for re-identification
        if len(given) != len(stage1):
            raise BatchRejected(f"Er zijn niet evenveel {what}'s als pseudoniemen.")
        present = stage1.is_not_null() & given.is_not_null()
        if not present.any():
            return None
        positions = present.arg_true()
        if bsns is not None:
            opened = bsns.gather(positions).cast(pl.String).cast(pl.Binary)
        else:
            try:
                plain = SealOpener(self.keys.seal_key()).open(
                    given.gather(positions), stage1.gather(positions), registry=registry
                )
            except SealError as error:
                raise BatchRejected(SealError(int(positions[error.position])).args[0]) from None
            opened = pl.Series(plain, dtype=pl.Binary)
        valid = bsn_is_valid(opened.cast(pl.String))
        if not valid.all():
            bad = int(positions[int(valid.not_().arg_true()[0])]) + 1
            raise BatchRejected(f"Regel {bad}: het {what} is geen geldig BSN.")
        return positions, opened

    def _reid_rows(
        self, registry: str, names: pl.Series, bsns: pl.Series
    ) -> PackedRows | tuple[list[str], list[bytes]]:
        """The re-identification store's rows: AES-SIV(K_reid, BSN) under each pseudonym (its 64
        hex digits, `names`). They are put in pseudonym order here, by Polars, so the store can
        insert them as they come (see `store_sealed`). A large batch goes on as one buffer per
        column into SQLite (`PackedRows`), without a Python object per ciphertext or name."""
        frame = (
            pl.DataFrame({"name": names, "bsn": bsns})
            .with_row_index("order")
            # Hex digits sort as the bytes they stand for. A repeated pseudonym keeps its
            # first row, as before.
            .sort("name", "order")
        )
        key = self.keys.reid_key(registry)
        associated = registry.encode()
        plain = binary_rows(frame["bsn"])
        if plain is not None:
            joined = str(frame["name"].str.join("").item())
            digests = as_rows(bytes.fromhex(joined), _DIGEST_BYTES)
            sealed = BatchSIV(key).encrypt(plain, [associated, digests])
            return PackedRows(
                count=frame.height, names=joined.encode("ascii"), name_width=2 * _DIGEST_BYTES,
                ciphers=sealed.tobytes(), cipher_width=int(sealed.shape[1]),
            )  # fmt: skip
        digest_series = frame["name"].str.decode("hex")
        ciphers = encrypt_each(key, frame["bsn"], [associated, digest_series])
        return frame["name"].to_list(), ciphers

    # --- key rotation ---

    def rotate_key(self, registry: str) -> KeyInfo:
        self._ready()
        registry = _check_registry(registry)
        self._registry_key(registry)  # a registry without keys first gets k1
        version = self.keys.rotate(registry)
        _, key, _ = self.keys.registry_key(registry, version)
        info = KeyInfo(registry, key_version_name(version), fingerprint(key))
        self.audit.append(
            "sleutel-vernieuwd",
            "ttp",
            {"register": registry, "versie": info.version, "vingerafdruk": info.fingerprint},
        )
        return info

    def rekey(
        self, registry: str, stage1: pl.Series, *, source: str, from_version: int
    ) -> pl.DataFrame:
        """Old and new pseudonym for each stage-1 pseudonym, so the registry can rewrite what it
        holds; for a re-identifiable registry the re-identification store follows along."""
        self._ready()
        registry = _check_registry(registry)
        stage1 = stage1.cast(pl.String)
        invalid = first_invalid_stage1(stage1, allow_nulls=True)
        if invalid is not None:
            raise BatchRejected(invalid.message())
        current, new_key = self._registry_key(registry)
        if from_version >= current:
            raise BatchRejected("Hersleutelen kan alleen van een oudere naar de huidige versie.")
        _, old_key, _ = self.keys.registry_key(registry, from_version)
        old = stage2_raw(stage1, key=old_key)
        new = stage2_raw(stage1, key=new_key)
        if is_reidentifiable(registry):
            self._move_reid(registry, from_version, current, old, new)
        old_prefix = pseudonym_prefix(registry, key_version_name(from_version))
        new_prefix = pseudonym_prefix(registry, key_version_name(current))
        pairs = pl.DataFrame({"old": old, "new": new}).select(
            old=pl.lit(old_prefix) + pl.col("old").bin.encode("hex"),
            new=pl.lit(new_prefix) + pl.col("new").bin.encode("hex"),
        )
        self.audit.append(
            "hersleuteling",
            f"bron:{source}",
            {
                "register": registry,
                "van": key_version_name(from_version),
                "naar": key_version_name(current),
                "aantal": len(stage1) - stage1.null_count(),
            },
        )
        return pairs

    def _move_reid(
        self, registry: str, old_version: int, new_version: int, old: pl.Series, new: pl.Series
    ) -> None:
        siv = AESSIV(self.keys.reid_key(registry))
        registry_bytes = registry.encode()
        new_by_old = {
            o.hex(): n for o, n in zip(old.to_list(), new.to_list(), strict=True) if o is not None
        }
        rows = self.store.sealed_for(registry, old_version, list(new_by_old))
        per_source: dict[str, list[tuple[str, bytes]]] = defaultdict(list)
        for pseudonym, source, cipher in rows:
            bsn = siv.decrypt(cipher, [registry_bytes, bytes.fromhex(pseudonym)])
            target = new_by_old[pseudonym]
            per_source[source].append((target.hex(), siv.encrypt(bsn, [registry_bytes, target])))
        for source, moved in per_source.items():
            self.store.store_sealed(registry, new_version, source, moved)

    def retire_key(self, registry: str, version: int) -> None:
        self._ready()
        self.keys.retire(_check_registry(registry), version)
        self.audit.append(
            "sleutel-vernietigd", "ttp", {"register": registry, "versie": key_version_name(version)}
        )

    # --- credentials ---

    def add_source(self, org: str) -> str:
        self._ready()
        token = self.store.add_source(org)
        self.audit.append("bron-toegang-uitgegeven", "ttp", {"organisatie": org})
        return token

    def add_officer(self, name: str) -> str:
        self._ready()
        token = self.store.add_officer(name)
        self.audit.append("functionaris-toegevoegd", "ttp", {"functionaris": name})
        return token

    def _officer(self, token: str, action: str, request_id: str) -> str:
        officer = self.store.officer_for_token(token)
        if officer is None:
            self.audit.append(
                f"{action}-geweigerd",
                "onbekend",
                {"verzoek": request_id, "reden": "geen geldige functionaris"},
            )
            raise NotAuthorised("Geen geldig token van een bevoegde TTP-functionaris.")
        return officer

    # --- re-identification ---

    def request_reidentification(
        self, registry: str, pseudonyms: Sequence[str], *, reason: str, requested_by: str
    ) -> Request:
        """Register a request (e.g. the carriers of a recalled device); it resolves only after
        two different officers approved it."""
        self._ready()
        registry = _check_registry(registry)
        if not is_reidentifiable(registry):
            raise Forbidden(f"Register {registry} is niet herleidbaar; heridentificatie kan niet.")
        if not reason.strip():
            raise ReidentificationRefused("Een heridentificatieverzoek heeft een reden nodig.")
        items: list[tuple[int, str]] = []
        for line, pseudonym in enumerate(pseudonyms, start=1):
            match = _LABELLED.fullmatch(pseudonym.strip())
            if match is None or match.group(1) != registry:
                raise ReidentificationRefused(
                    f"Regel {line} is geen pseudoniem van register {registry}."
                )
            items.append((int(match.group(2)), match.group(3)))
        if not items:
            raise ReidentificationRefused("Het verzoek noemt geen enkel pseudoniem.")
        request = self.store.add_request(registry, reason.strip(), requested_by, items)
        self.audit.append(
            "heridentificatie-verzoek",
            requested_by,
            {
                "verzoek": request.id,
                "register": registry,
                "aantal": len(items),
                "reden": request.reason,
            },
        )
        return request

    def decide(
        self, request_id: str, *, officer_token: str, approve: bool, reason: str | None = None
    ) -> Request:
        """An officer approves or refuses; the same officer cannot count twice."""
        self._ready()
        action = "heridentificatie-goedkeuring" if approve else "heridentificatie-afwijzing"
        officer = self._officer(officer_token, action, request_id)
        try:
            status = self.store.decide(
                request_id, officer, "approve" if approve else "refuse", reason
            )
        except DecisionError as error:
            message = _DECISION_MESSAGES.get(error.kind) or (
                f"Over dit verzoek is al beslist (status: {error.kind.partition(':')[2]})."
            )
            self.audit.append(
                f"{action}-geweigerd", officer, {"verzoek": request_id, "reden": message}
            )
            raise ReidentificationRefused(message) from None
        details: dict[str, Any] = {"verzoek": request_id, "status": status}
        if reason:
            details["reden"] = reason
        self.audit.append(action, officer, details)
        request = self.store.request(request_id)
        assert request is not None
        return request

    def resolve(self, request_id: str, *, officer_token: str) -> Resolution:
        """Decrypt the BSNs of an approved request into one answer file per hospital that sent
        those patients. Nothing is returned to the caller but counts."""
        self._ready()
        officer = self._officer(officer_token, "heridentificatie-oplossen", request_id)
        request = self.store.request(request_id)
        approvers = self.store.approvers(request_id) if request else []
        if request is None or request.status != "approved" or len(approvers) < REQUIRED_APPROVALS:
            status = request.status if request else "onbekend"
            message = (
                f"Verzoek kan niet worden uitgevoerd: er zijn {REQUIRED_APPROVALS} goedkeuringen "
                f"van verschillende functionarissen nodig (status: {status}, "
                f"goedkeuringen: {len(approvers)})."
            )
            self.audit.append(
                "heridentificatie-oplossen-geweigerd",
                officer,
                {"verzoek": request_id, "reden": message},
            )
            raise ReidentificationRefused(message)
        siv = AESSIV(self.keys.reid_key(request.registry))
        registry_bytes = request.registry.encode()
        by_version: dict[int, list[str]] = defaultdict(list)
        for version, pseudonym in self.store.request_items(request_id):
            by_version[version].append(pseudonym)
        per_source: dict[str, list[str]] = defaultdict(list)
        found: set[tuple[int, str]] = set()
        for version, pseudonyms in by_version.items():
            for pseudonym, source, cipher in self.store.sealed_for(
                request.registry, version, pseudonyms
            ):
                try:
                    bsn = siv.decrypt(cipher, [registry_bytes, bytes.fromhex(pseudonym)])
                except InvalidTag:
                    continue  # a damaged row cannot be answered; counted as not found
                per_source[source].append(bsn.decode())
                found.add((version, pseudonym))
        wanted = {(v, p) for v, ps in by_version.items() for p in ps}
        folder = private_dir(self.root / "outbox" / request_id)
        files = [
            self._write_answer(folder, source, bsns) for source, bsns in sorted(per_source.items())
        ]
        self.store.set_status(request_id, "resolved")
        counts = {source: len(set(bsns)) for source, bsns in sorted(per_source.items())}
        self.audit.append(
            "heridentificatie-uitgevoerd",
            officer,
            {
                "verzoek": request_id,
                "per_bron": counts,
                "niet_gevonden": len(wanted - found),
                "goedgekeurd_door": approvers,
            },
        )
        return Resolution(request_id, counts, len(wanted - found), folder, files)

    @staticmethod
    def _write_answer(folder: Path, source: str, bsns: list[str]) -> Path:
        path = folder / f"aan-{source}.csv"
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", newline="", encoding="utf-8") as fh:
            writer = csv.writer(fh, delimiter=";")
            writer.writerow(["bsn"])
            writer.writerows([b] for b in sorted(set(bsns)))
        return path
