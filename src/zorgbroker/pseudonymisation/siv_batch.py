"""AES-SIV (RFC 5297) over a whole batch of equally long messages at once.

`cryptography`'s AESSIV takes one message per call, and every call costs a few microseconds of
Python and OpenSSL set-up around a few nanoseconds of AES: a million sealed BSNs took 4.5 s on
the benchmark machine, and an upload pays for three such passes (sealing at the source, opening
and re-encrypting at the TTP). Yet SIV is built from two things that batch well: CMAC, whose
block chain can run for every row side by side, and CTR mode, whose keystream blocks are
independent. So each step of RFC 5297 runs here as one AES-ECB pass over all rows (OpenSSL,
AES-NI) with the XORs and doublings in NumPy, and a batch costs a handful of passes over a few
megabytes instead of a call per row.

This is the same function, not a look-alike: the tests compare every output with AESSIV's on
random keys, messages and associated data, and AESSIV opens what this seals and the reverse.
Rows are equally long by construction here (a normalised BSN is 9 bytes, a stage-1 pseudonym
32); `encrypt_each` falls back to AESSIV for anything else, and for small batches.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from types import ModuleType
from typing import Any

import polars as pl
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.ciphers.aead import AESSIV

from zorgbroker.lazy_numpy import numpy_module

_BLOCK = 16
#: Smaller batches take AESSIV: a thousand calls cost a few milliseconds, less than loading NumPy
#: (about 0.1 s), which a small upload or a TTP service request would otherwise pay for.
BATCH_FROM = 1_000

#: Rows as a (rows, width) uint8 array; kept as `Any` so NumPy loads only when it is used.
Rows = Any
#: An associated-data component: the same bytes for every row, or one fixed-width value per row.
Component = bytes | Rows


def _np() -> ModuleType:
    return numpy_module()


def _dbl(blocks: Rows) -> Rows:
    """Doubling in GF(2^128), the `dbl` of RFC 5297, for every row."""
    np = _np()
    words = np.ascontiguousarray(blocks).view(">u8").reshape(-1, 2)
    high, low = words[:, 0], words[:, 1]
    carry = high >> np.uint64(63)
    out = np.empty_like(words)
    out[:, 0] = (high << np.uint64(1)) | (low >> np.uint64(63))
    out[:, 1] = (low << np.uint64(1)) ^ (carry * np.uint64(0x87))
    return out.view(np.uint8).reshape(-1, _BLOCK)


def _padded(rows: Rows) -> Rows:
    """`pad` of RFC 5297 / CMAC for rows shorter than a block: 0x80, then zeros."""
    np = _np()
    out = np.zeros((rows.shape[0], _BLOCK), dtype=np.uint8)
    out[:, : rows.shape[1]] = rows
    out[:, rows.shape[1]] = 0x80
    return out


@dataclass(frozen=True)
class _AES:
    key: bytes

    def blocks(self, rows: Rows) -> Rows:
        """AES of every 16-byte row: one ECB pass."""
        np = _np()
        encryptor = Cipher(algorithms.AES(self.key), modes.ECB()).encryptor()
        data = encryptor.update(np.ascontiguousarray(rows).tobytes())
        return np.frombuffer(data, dtype=np.uint8).reshape(-1, _BLOCK)


class BatchSIV:
    """AES-SIV with a 32-, 48- or 64-byte key, as `AESSIV(key)`, for many rows per call."""

    def __init__(self, key: bytes) -> None:
        if len(key) not in (32, 48, 64):
            raise ValueError("AES-SIV key must be 256, 384 or 512 bits")
        half = len(key) // 2
        self._mac = _AES(key[:half])
        self._ctr = _AES(key[half:])
        np = _np()
        zero = np.zeros((1, _BLOCK), dtype=np.uint8)
        self._k1 = _dbl(self._mac.blocks(zero))
        self._k2 = _dbl(self._k1)
        #: S2V starts from CMAC(K, <zero>), the same for every row.
        self._start = self._cmac_rows(zero)

    def _cmac_rows(self, rows: Rows) -> Rows:
        """CMAC of every row (all rows equally long, possibly empty)."""
        np = _np()
        count, width = rows.shape
        full = max(0, (width - 1) // _BLOCK)  # blocks before the last one
        state = np.zeros((count, _BLOCK), dtype=np.uint8)
        for index in range(full):
            state = self._mac.blocks(state ^ rows[:, index * _BLOCK : (index + 1) * _BLOCK])
        last = rows[:, full * _BLOCK :]
        last = last ^ self._k1 if last.shape[1] == _BLOCK else _padded(last) ^ self._k2
        return self._mac.blocks(state ^ last)

    def _cmac_component(self, component: Component, count: int) -> Rows:
        np = _np()
        if isinstance(component, bytes | bytearray):
            row = np.frombuffer(bytes(component), dtype=np.uint8).reshape(1, -1)
            return np.broadcast_to(self._cmac_rows(row), (count, _BLOCK))
        if component.ndim != 2 or component.shape[0] != count:
            raise ValueError("per-row associated data must have one row per message")
        return self._cmac_rows(component)

    def _s2v(self, associated: Sequence[Component], plain: Rows) -> Rows:
        np = _np()
        count, width = plain.shape
        state = np.broadcast_to(self._start, (count, _BLOCK))
        for component in associated:
            state = _dbl(state) ^ self._cmac_component(component, count)
        if width >= _BLOCK:
            last = plain.copy()
            last[:, width - _BLOCK :] ^= state  # xorend
            return self._cmac_rows(last)
        return self._cmac_rows(_dbl(state) ^ _padded(plain))

    def _keystream(self, iv: Rows, width: int) -> Rows:
        np = _np()
        counter = iv.copy()
        counter[:, 8] &= 0x7F  # RFC 5297 clears these two bits, so the low 32-bit word of
        counter[:, 12] &= 0x7F  # the counter cannot carry for any message size used here
        blocks = -(-width // _BLOCK)
        low = counter[:, 12:].copy().view(">u4").reshape(-1)
        stream = []
        for step in range(blocks):
            block = counter.copy()
            block[:, 12:] = (low + np.uint32(step)).astype(">u4").view(np.uint8).reshape(-1, 4)
            stream.append(self._ctr.blocks(block))
        return np.concatenate(stream, axis=1)[:, :width]

    def encrypt(self, plain: Rows, associated: Sequence[Component]) -> Rows:
        """`AESSIV.encrypt(row, associated)` of every row: (rows, 16 + width)."""
        np = _np()
        if plain.ndim != 2 or plain.shape[1] == 0:
            raise ValueError("messages must be rows of at least one byte")
        iv = self._s2v(associated, plain)
        cipher = plain ^ self._keystream(iv, plain.shape[1])
        return np.concatenate([iv, cipher], axis=1)

    def decrypt(self, sealed: Rows, associated: Sequence[Component]) -> tuple[Rows, Rows]:
        """The messages, and per row whether it authenticated (AESSIV would raise InvalidTag
        where this says False; such a row's message is meaningless)."""
        if sealed.ndim != 2 or sealed.shape[1] <= _BLOCK:
            raise ValueError("sealed values must be rows of more than 16 bytes")
        iv = sealed[:, :_BLOCK]
        plain = sealed[:, _BLOCK:] ^ self._keystream(iv, sealed.shape[1] - _BLOCK)
        # Every byte of every row is compared, whatever the first difference: no early exit
        # whose timing could tell a forger how much of a tag was right.
        authentic = (self._s2v(associated, plain) == iv).all(axis=1)
        return plain, authentic


def _uniform_length(lengths: pl.Series) -> int | None:
    """The one length all values have; None when they differ, or for none or a null."""
    if len(lengths) == 0 or lengths.null_count() or lengths.n_unique() != 1:
        return None
    return int(lengths[0])


def binary_rows(values: pl.Series) -> Rows | None:
    """Binary values as rows when there are at least BATCH_FROM, all there and equally long (at
    least one byte); else None."""
    width = _uniform_length(values.bin.size()) if len(values) >= BATCH_FROM else None
    if not width:
        return None
    return as_rows(b"".join(values.to_list()), width)


def encrypt_each(
    key: bytes, plain: pl.Series, associated: Sequence[bytes | pl.Series]
) -> list[bytes]:
    """`AESSIV(key).encrypt(value, associated data)` for every value of `plain` (Binary), in
    order. A component of the associated data is the same bytes for every row, or a Binary
    series, row for row. One batch where the values allow it (see `binary_rows`); otherwise
    one AESSIV call per row."""
    rows = binary_rows(plain)
    if rows is not None:
        components = [c if isinstance(c, bytes) else binary_rows(c) for c in associated]
        if all(c is not None for c in components):
            return row_bytes(BatchSIV(key).encrypt(rows, components))
    encrypt = AESSIV(key).encrypt
    values = plain.to_list()
    columns = [[c] * len(values) if isinstance(c, bytes) else c.to_list() for c in associated]
    return [encrypt(value, list(data)) for value, *data in zip(values, *columns, strict=True)]


def as_rows(data: bytes, width: int) -> Rows:
    """Consecutive `width`-byte values in one buffer as rows."""
    np = _np()
    if width <= 0 or len(data) % width:
        raise ValueError("data is not a whole number of rows")
    return np.frombuffer(data, dtype=np.uint8).reshape(-1, width)


def row_bytes(rows: Rows) -> list[bytes]:
    """Each row as its own bytes object."""
    data = _np().ascontiguousarray(rows).tobytes()
    width = rows.shape[1]
    return [data[start : start + width] for start in range(0, len(data), width)]
