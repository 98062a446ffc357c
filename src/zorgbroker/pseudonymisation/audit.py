"""The TTP's append-only audit log: one JSON object per line, chained by keyed hashes.

Each entry carries `prev` (the previous entry's `mac`) and its own
`mac = HMAC-SHA256(K_audit, canonical JSON of the entry without "mac")`. Editing an entry breaks its
own mac; removing or reordering one breaks the sequence numbers and the chain; removing entries at
the end is caught by the separate head file, which is itself keyed. Without K_audit nobody can
write a chain that verifies.
"""

from __future__ import annotations

import contextlib
import fcntl
import hmac
import json
import os
import threading
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

GENESIS = "0" * 64


def _canonical(entry: Mapping[str, Any]) -> bytes:
    return json.dumps(entry, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def _mac(key: bytes, entry: Mapping[str, Any]) -> str:
    body = {k: v for k, v in entry.items() if k != "mac"}
    return hmac.digest(key, _canonical(body), "sha256").hex()


def _head_mac(key: bytes, seq: int, mac: str) -> str:
    return hmac.digest(key, f"head|{seq}|{mac}".encode(), "sha256").hex()


@dataclass(frozen=True)
class Verification:
    entries: int
    #: Sequence number of the first entry that is wrong or missing; None when intact.
    first_bad: int | None = None
    problem: str | None = None  # Dutch
    head: str = GENESIS

    @property
    def intact(self) -> bool:
        return self.first_bad is None


class AuditLog:
    _thread_lock = threading.Lock()

    def __init__(self, folder: Path, key: bytes) -> None:
        self.path = folder / "audit.jsonl"
        self.head_path = folder / "audit.head"
        self.lock_path = folder / "audit.lock"
        self._key = key

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        # Threads of the service and separate CLI processes (officers) append to the same log.
        with self._thread_lock:
            fd = os.open(self.lock_path, os.O_RDWR | os.O_CREAT, 0o600)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX)
                yield
            finally:
                fcntl.flock(fd, fcntl.LOCK_UN)
                os.close(fd)

    def _last_entry(self) -> dict[str, Any] | None:
        try:
            with self.path.open("rb") as fh:
                fh.seek(0, os.SEEK_END)
                end = fh.tell()
                chunk = 4096
                data = b""
                while end > 0:
                    start = max(0, end - chunk)
                    fh.seek(start)
                    data = fh.read(end - start) + data
                    end = start
                    lines = data.rstrip(b"\n").split(b"\n")
                    if len(lines) > 1 or end == 0:
                        last = lines[-1]
                        return dict(json.loads(last)) if last else None
        except FileNotFoundError:
            return None
        return None

    def append(self, action: str, actor: str, details: Mapping[str, Any]) -> dict[str, Any]:
        """Write one entry, durable on return."""
        with self._locked():
            last = self._last_entry()
            entry: dict[str, Any] = {
                "seq": 1 if last is None else int(last["seq"]) + 1,
                "time": datetime.now(UTC).isoformat(timespec="milliseconds"),
                "action": action,
                "actor": actor,
                "details": dict(details),
                "prev": GENESIS if last is None else str(last["mac"]),
            }
            entry["mac"] = _mac(self._key, entry)
            fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
            with os.fdopen(fd, "ab") as fh:
                fh.write(_canonical(entry) + b"\n")
                fh.flush()
                os.fsync(fh.fileno())
            self._write_head(entry["seq"], entry["mac"])
            return entry

    def _write_head(self, seq: int, mac: str) -> None:
        head = {"seq": seq, "mac": mac, "head_mac": _head_mac(self._key, seq, mac)}
        tmp = self.head_path.with_suffix(".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as fh:
            fh.write(_canonical(head))
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, self.head_path)

    def entries(self) -> list[dict[str, Any]]:
        if not self.path.exists():
            return []
        with self.path.open("rb") as fh:
            return [dict(json.loads(line)) for line in fh if line.strip()]

    def verify(self) -> Verification:
        """Walk the whole chain; report the first entry that is wrong or missing."""
        prev = GENESIS
        count = 0
        lines: list[bytes] = []
        if self.path.exists():
            with self.path.open("rb") as fh:
                lines = [line for line in fh if line.strip()]
        for index, line in enumerate(lines):
            expected = index + 1
            try:
                entry = json.loads(line)
                seq = int(entry["seq"])
                recorded_prev = str(entry["prev"])
                recorded_mac = str(entry["mac"])
            except (ValueError, KeyError, TypeError):
                return Verification(count, expected, f"regel {expected} is onleesbaar", prev)
            if seq != expected:
                problem = (
                    f"regel {expected} draagt volgnummer {seq}: "
                    "een regel is verwijderd of verplaatst"
                )
                return Verification(count, expected, problem, prev)
            if recorded_prev != prev:
                problem = f"regel {expected} sluit niet aan op de vorige: de keten is verbroken"
                return Verification(count, expected, problem, prev)
            if not hmac.compare_digest(recorded_mac, _mac(self._key, entry)):
                return Verification(count, expected, f"regel {expected} is gewijzigd", prev)
            prev = recorded_mac
            count = expected
        return self._verify_head(count, prev)

    def _verify_head(self, count: int, last_mac: str) -> Verification:
        if not self.head_path.exists():
            if count == 0:
                return Verification(0)
            return Verification(count, count + 1, "het kopbestand van het log ontbreekt", last_mac)
        try:
            head = json.loads(self.head_path.read_bytes())
            seq, mac, head_mac = int(head["seq"]), str(head["mac"]), str(head["head_mac"])
        except (ValueError, KeyError, TypeError):
            return Verification(count, count + 1, "het kopbestand is onleesbaar", last_mac)
        if not hmac.compare_digest(head_mac, _head_mac(self._key, seq, mac)):
            return Verification(count, count + 1, "het kopbestand is gewijzigd", last_mac)
        if seq > count:
            problem = f"regels {count + 1} tot en met {seq} ontbreken aan het eind van het log"
            return Verification(count, count + 1, problem, last_mac)
        if seq < count or mac != last_mac:
            return Verification(
                count, seq + 1, f"het log loopt niet gelijk met de kop na regel {seq}", last_mac
            )
        return Verification(count, head=last_mac)
