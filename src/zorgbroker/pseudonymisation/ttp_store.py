"""The TTP's own SQLite database: source and officer credentials, the re-identification store and
re-identification requests. It lives in the TTP folder and nowhere else."""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import secrets
import sqlite3
import time
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from itertools import repeat
from pathlib import Path

_SCHEMA = """
CREATE TABLE IF NOT EXISTS sources (
    org TEXT PRIMARY KEY, token_hash TEXT NOT NULL, created TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS officers (
    name TEXT PRIMARY KEY, token_hash TEXT NOT NULL, created TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS reid (
    registry TEXT NOT NULL, key_version INTEGER NOT NULL, pseudonym TEXT NOT NULL,
    source TEXT NOT NULL, sealed BLOB NOT NULL, first_seen TEXT NOT NULL,
    PRIMARY KEY (registry, key_version, pseudonym, source)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS requests (
    id TEXT PRIMARY KEY, registry TEXT NOT NULL, reason TEXT NOT NULL,
    requested_by TEXT NOT NULL, created TEXT NOT NULL, status TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS request_items (
    request_id TEXT NOT NULL REFERENCES requests(id), key_version INTEGER NOT NULL,
    pseudonym TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS enrolments (
    registry TEXT NOT NULL, email TEXT NOT NULL, organisation TEXT NOT NULL,
    created TEXT NOT NULL, link_hash TEXT UNIQUE, link_expires TEXT,
    wrapped TEXT, wrapped_at TEXT,
    PRIMARY KEY (registry, email));
CREATE TABLE IF NOT EXISTS decisions (
    request_id TEXT NOT NULL REFERENCES requests(id), officer TEXT NOT NULL,
    decision TEXT NOT NULL, reason TEXT, time TEXT NOT NULL,
    PRIMARY KEY (request_id, officer));
"""


#: Distinct officers who must approve before a re-identification can resolve.
REQUIRED_APPROVALS = 2


class DecisionError(Exception):
    """An officer's decision that the rules do not allow; `kind` says which rule."""

    def __init__(self, kind: str) -> None:
        super().__init__(kind)
        self.kind = kind


#: Page cache (KiB) for bulk writes to the re-identification store.
_BULK_CACHE_KIB = 256 * 1024


#: From this many rows a batch goes to SQLite packed (see `_INSERT_PACKED`).
_PACKED_FROM = 1_000

# A large batch in one statement, its rows cut by SQLite from two packed values: all
# pseudonyms back to back, and all sealed values. `executemany` binds six values per row in
# Python, holding the GIL for each, beside the registry's own work on another thread (the
# embedded TTP stores while the registry imports); this statement runs in SQLite alone, in one
# step without the GIL, and took 7.7 s instead of 10.0 s for 1M rows into a store holding 1M.
# The pseudonyms are packed as bytes, because `substr` finds an offset in a blob directly and
# in a text by counting characters from the start; each piece is cast back to text.
_INSERT_PACKED = """
INSERT OR IGNORE INTO reid
WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i + 1 < :count)
SELECT :registry, :key_version, CAST(substr(:names, i * :name_width + 1, :name_width) AS TEXT),
       :source, substr(:ciphers, i * :cipher_width + 1, :cipher_width), :stamp
FROM n
"""


@dataclass(frozen=True)
class PackedRows:
    """Rows for the re-identification store, packed: `count` pseudonyms of `name_width` ASCII
    characters back to back, and as many sealed values of `cipher_width` bytes, in pseudonym
    order (the first row of a repeated pseudonym first)."""

    count: int
    names: bytes
    name_width: int
    ciphers: bytes
    cipher_width: int

    def __post_init__(self) -> None:
        if len(self.names) != self.count * self.name_width or len(self.ciphers) != (
            self.count * self.cipher_width
        ):
            raise ValueError("packed rows do not match their count and widths")


def _packed(pseudonyms: Sequence[str], sealed: Sequence[bytes]) -> PackedRows | None:
    """The rows packed, when all pseudonyms are ASCII of one length and all sealed values of one
    length; else None."""
    name_widths, cipher_widths = set(map(len, pseudonyms)), set(map(len, sealed))
    if len(name_widths) != 1 or len(cipher_widths) != 1:
        return None
    joined = "".join(pseudonyms)
    if not joined.isascii():
        return None
    return PackedRows(
        len(pseudonyms), joined.encode("ascii"), name_widths.pop(), b"".join(sealed),
        cipher_widths.pop(),
    )  # fmt: skip


def _pseudonym_of(row: tuple[str, bytes]) -> str:
    return row[0]


def now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def _hash_secret(secret: str) -> str:
    # Secrets are 256 random bits, so a plain hash is enough; no password stretching needed.
    return hashlib.sha256(secret.encode()).hexdigest()


@dataclass(frozen=True)
class Request:
    id: str
    registry: str
    reason: str
    requested_by: str
    created: str
    status: str  # "open" | "approved" | "refused" | "resolved"


_BUSY_SECONDS = 30.0


def _use_wal(connection: sqlite3.Connection) -> None:
    """Put the store in WAL mode, which the file then keeps.

    Switching needs the file to itself, and SQLite answers "database is locked" at once, without
    its busy wait, while another connection is inside a transaction: two processes that create
    the store at the same moment meet exactly that. So the mode is only set when it is not WAL
    yet, and a locked answer is waited out here.
    """
    deadline = time.monotonic() + _BUSY_SECONDS
    while True:
        try:
            (mode,) = connection.execute("PRAGMA journal_mode").fetchone()
            if str(mode).lower() != "wal":
                connection.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() > deadline:
                raise
            time.sleep(0.05)


class TTPStore:
    def __init__(self, path: Path) -> None:
        self.path = path

    @contextlib.contextmanager
    def connect(self) -> Iterator[sqlite3.Connection]:
        connection = sqlite3.connect(self.path, timeout=_BUSY_SECONDS)
        try:
            _use_wal(connection)
            connection.execute("PRAGMA foreign_keys=ON")
            with connection:
                yield connection
        finally:
            connection.close()

    def create(self) -> None:
        with self.connect() as db:
            db.executescript(_SCHEMA)
        self.path.chmod(0o600)

    # --- credentials -------------------------------------------------------------------------

    def _add_credential(self, table: str, column: str, name: str) -> str:
        secret = secrets.token_urlsafe(32)
        with self.connect() as db:
            db.execute(
                f"INSERT OR REPLACE INTO {table} ({column}, token_hash, created) VALUES (?, ?, ?)",
                (name, _hash_secret(secret), now()),
            )
        return f"{name}.{secret}"

    def _check_credential(self, table: str, column: str, token: str) -> str | None:
        name, dot, secret = token.rpartition(".")
        if not dot or not name or not secret:
            return None
        with self.connect() as db:
            row = db.execute(
                f"SELECT token_hash FROM {table} WHERE {column} = ?", (name,)
            ).fetchone()
        if row is None or not hmac.compare_digest(str(row[0]), _hash_secret(secret)):
            return None
        return name

    def add_source(self, org: str) -> str:
        """A new token for a source organisation (replacing any earlier one); shown only once."""
        return self._add_credential("sources", "org", org)

    def source_for_token(self, token: str) -> str | None:
        return self._check_credential("sources", "org", token)

    def add_officer(self, name: str) -> str:
        return self._add_credential("officers", "name", name)

    def officer_for_token(self, token: str) -> str | None:
        return self._check_credential("officers", "name", token)

    # --- source users of the browser (wrapped source keys) ----------------------------------

    def enrol(
        self, registry: str, email: str, organisation: str, link_hash: str, expires: str
    ) -> None:
        """Enrol a source user (again): a new single-use link replaces any earlier one. The
        wrapping made with an earlier password stays until the new one is set, unless the user
        moved to another organisation (a wrapping is bound to its organisation)."""
        with self.connect() as db:
            db.execute(
                "INSERT INTO enrolments (registry, email, organisation, created, link_hash, "
                "link_expires) VALUES (?, ?, ?, ?, ?, ?) "
                "ON CONFLICT (registry, email) DO UPDATE SET link_hash = excluded.link_hash, "
                "link_expires = excluded.link_expires, "
                "wrapped = CASE WHEN organisation = excluded.organisation THEN wrapped END, "
                "wrapped_at = CASE WHEN organisation = excluded.organisation THEN wrapped_at END, "
                "organisation = excluded.organisation",
                (registry, email, organisation, now(), link_hash, expires),
            )

    def enrolment_by_link(self, link_hash: str) -> tuple[str, str, str, str] | None:
        """(registry, e-mail, organisation, expires) of an unused link."""
        with self.connect() as db:
            row = db.execute(
                "SELECT registry, email, organisation, link_expires FROM enrolments "
                "WHERE link_hash = ?",
                (link_hash,),
            ).fetchone()
        return None if row is None else (str(row[0]), str(row[1]), str(row[2]), str(row[3]))

    def use_link(self, link_hash: str, not_expired_at: str, wrapped: str) -> bool:
        """Store the wrapping and spend the link, if it is still unused and valid at
        `not_expired_at`; False when another request spent it first (or it expired)."""
        with self.connect() as db:
            done = db.execute(
                "UPDATE enrolments SET wrapped = ?, wrapped_at = ?, link_hash = NULL, "
                "link_expires = NULL WHERE link_hash = ? AND link_expires > ?",
                (wrapped, now(), link_hash, not_expired_at),
            )
        return done.rowcount == 1

    def wrapped_for(self, registry: str, email: str, organisation: str) -> str | None:
        with self.connect() as db:
            row = db.execute(
                "SELECT wrapped FROM enrolments WHERE registry = ? AND email = ? "
                "AND organisation = ? AND wrapped IS NOT NULL",
                (registry, email, organisation),
            ).fetchone()
        return None if row is None else str(row[0])

    # --- re-identification store ---------------------------------------------------------------

    def store_sealed(
        self, registry: str, key_version: int, source: str, rows: Iterable[tuple[str, bytes]]
    ) -> None:
        # Pseudonyms are random, so inserting them in arrival order touches a random page of the
        # primary key for every row; in key order the B-tree is filled page by page. Sorting is
        # stable, so for a repeated pseudonym the first row still wins (INSERT OR IGNORE).
        ordered = sorted(rows, key=_pseudonym_of)
        self.store_sealed_in_order(
            registry, key_version, source, [p for p, _ in ordered], [c for _, c in ordered]
        )

    def store_sealed_in_order(
        self,
        registry: str,
        key_version: int,
        source: str,
        pseudonyms: Sequence[str],
        sealed: Sequence[bytes],
    ) -> None:
        """As `store_sealed`, for rows the caller already put in pseudonym order (first row of a
        repeated pseudonym first)."""
        if len(pseudonyms) != len(sealed):
            raise ValueError("pseudonyms and sealed values differ in number")
        packed = _packed(pseudonyms, sealed) if len(pseudonyms) >= _PACKED_FROM else None
        if packed is not None:
            self.store_packed(registry, key_version, source, packed)
            return
        stamp = now()
        with self.connect() as db:
            db.execute(f"PRAGMA cache_size=-{_BULK_CACHE_KIB}")
            # The row tuples are made by `zip` as SQLite asks for them, never as a list of a
            # million tuples in Python.
            values = zip(
                repeat(registry),
                repeat(key_version),
                pseudonyms,
                repeat(source),
                sealed,
                repeat(stamp),
            )
            db.executemany("INSERT OR IGNORE INTO reid VALUES (?, ?, ?, ?, ?, ?)", values)

    def store_packed(self, registry: str, key_version: int, source: str, rows: PackedRows) -> None:
        """As `store_sealed_in_order`, for rows already packed (see `_INSERT_PACKED`)."""
        if rows.count == 0:
            return  # (the statement's row counter would start one row regardless)
        with self.connect() as db:
            # A batch of a million rows outgrows SQLite's default 2 MB page cache many times.
            db.execute(f"PRAGMA cache_size=-{_BULK_CACHE_KIB}")
            db.execute(
                _INSERT_PACKED,
                {
                    "count": rows.count,
                    "registry": registry,
                    "key_version": key_version,
                    "names": rows.names,
                    "name_width": rows.name_width,
                    "source": source,
                    "ciphers": rows.ciphers,
                    "cipher_width": rows.cipher_width,
                    "stamp": now(),
                },
            )

    def sealed_for(
        self, registry: str, key_version: int, pseudonyms: list[str]
    ) -> list[tuple[str, str, bytes]]:
        """(pseudonym, source, ciphertext) for every source that sent one of these pseudonyms."""
        with self.connect() as db:
            db.execute("CREATE TEMP TABLE wanted (p TEXT PRIMARY KEY) WITHOUT ROWID")
            db.executemany("INSERT OR IGNORE INTO wanted VALUES (?)", ((p,) for p in pseudonyms))
            rows = db.execute(
                "SELECT r.pseudonym, r.source, r.sealed FROM reid r JOIN wanted w "
                "ON r.pseudonym = w.p WHERE r.registry = ? AND r.key_version = ? "
                "ORDER BY r.source, r.pseudonym",
                (registry, key_version),
            ).fetchall()
        return [(str(p), str(s), bytes(c)) for p, s, c in rows]

    # --- requests --------------------------------------------------------------------------------

    def add_request(
        self, registry: str, reason: str, requested_by: str, items: list[tuple[int, str]]
    ) -> Request:
        request = Request(secrets.token_hex(6), registry, reason, requested_by, now(), "open")
        with self.connect() as db:
            db.execute(
                "INSERT INTO requests VALUES (?, ?, ?, ?, ?, ?)",
                (request.id, registry, reason, requested_by, request.created, request.status),
            )
            db.executemany(
                "INSERT INTO request_items VALUES (?, ?, ?)",
                ((request.id, version, p) for version, p in items),
            )
        return request

    def request(self, request_id: str) -> Request | None:
        with self.connect() as db:
            row = db.execute("SELECT * FROM requests WHERE id = ?", (request_id,)).fetchone()
        return None if row is None else Request(*(str(v) for v in row))

    def request_items(self, request_id: str) -> list[tuple[int, str]]:
        with self.connect() as db:
            rows = db.execute(
                "SELECT key_version, pseudonym FROM request_items WHERE request_id = ?",
                (request_id,),
            ).fetchall()
        return [(int(v), str(p)) for v, p in rows]

    def decide(self, request_id: str, officer: str, decision: str, reason: str | None) -> str:
        """Record an officer's decision and return the request's new status.

        Runs in one write transaction, so two officers deciding at the same moment cannot both
        see "one approval so far". Raises DecisionError when the decision is not allowed.
        """
        connection = sqlite3.connect(self.path, timeout=30, isolation_level=None)
        try:
            connection.execute("BEGIN IMMEDIATE")
            row = connection.execute(
                "SELECT status, requested_by FROM requests WHERE id = ?", (request_id,)
            ).fetchone()
            if row is None:
                raise DecisionError("onbekend")
            status, requested_by = str(row[0]), str(row[1])
            if status != "open":
                raise DecisionError(f"status:{status}")
            if officer == requested_by:
                raise DecisionError("eigen-verzoek")
            seen = connection.execute(
                "SELECT 1 FROM decisions WHERE request_id = ? AND officer = ?",
                (request_id, officer),
            ).fetchone()
            if seen is not None:
                raise DecisionError("al-beslist")
            connection.execute(
                "INSERT INTO decisions VALUES (?, ?, ?, ?, ?)",
                (request_id, officer, decision, reason, now()),
            )
            approvals = connection.execute(
                "SELECT COUNT(DISTINCT officer) FROM decisions "
                "WHERE request_id = ? AND decision = 'approve'",
                (request_id,),
            ).fetchone()[0]
            if decision == "refuse":
                status = "refused"
            elif int(approvals) >= REQUIRED_APPROVALS:
                status = "approved"
            connection.execute("UPDATE requests SET status = ? WHERE id = ?", (status, request_id))
            connection.execute("COMMIT")
            return status
        except BaseException:
            if connection.in_transaction:
                connection.execute("ROLLBACK")
            raise
        finally:
            connection.close()

    def approvers(self, request_id: str) -> list[str]:
        with self.connect() as db:
            rows = db.execute(
                "SELECT DISTINCT officer FROM decisions WHERE request_id = ? "
                "AND decision = 'approve' ORDER BY officer",
                (request_id,),
            ).fetchall()
        return [str(r[0]) for r in rows]

    def set_status(self, request_id: str, status: str) -> None:
        with self.connect() as db:
            db.execute("UPDATE requests SET status = ? WHERE id = ?", (status, request_id))
