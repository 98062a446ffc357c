"""Sealing a BSN for the TTP's re-identification store, so the registry can relay it unread.

Only for re-identifiable registries. Per upload the source makes an ephemeral X25519 key pair and
agrees a key with the TTP's long-term sealing public key (HKDF-SHA256 → 512-bit AES-SIV key).
Each BSN is encrypted with AES-SIV and bound, as associated data, to the registry name and to the
row's own stage-1 pseudonym: the registry cannot move a sealed BSN to another row or another
registry without the TTP noticing. The ephemeral public key travels in every sealed value, so any
subset of rows can be sent on its own.

Sealed value: ``zb1s.<base64 ephemeral public key>.<base64 AES-SIV ciphertext>``.
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass

import polars as pl
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
from cryptography.hazmat.primitives.ciphers.aead import AESSIV
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from zorgbroker.pseudonymisation.siv_batch import BatchSIV, binary_rows, encrypt_each, row_bytes

SEAL_PREFIX = "zb1s"


class SealError(ValueError):
    """A sealed value that the TTP cannot open for this row and registry."""

    def __init__(self, position: int) -> None:
        super().__init__(
            f"Regel {position + 1}: het verzegelde BSN hoort niet bij dit stap-1-pseudoniem "
            "of dit register, of is beschadigd."
        )
        self.position = position


def _seal_key(shared: bytes, registry: str, ephemeral: bytes, recipient: bytes) -> bytes:
    info = b"zb1 seal|" + registry.encode() + b"|" + ephemeral + recipient
    return HKDF(algorithm=hashes.SHA256(), length=64, salt=None, info=info).derive(shared)


def seal_bsns(
    bsn: pl.Series, p1_hex: pl.Series, *, ttp_public_key: bytes, registry: str
) -> pl.Series:
    """One sealed value per row (null where the BSN is null). `bsn` holds normalised BSNs and
    `p1_hex` their stage-1 pseudonyms, row for row."""
    recipient = X25519PublicKey.from_public_bytes(ttp_public_key)
    ephemeral = X25519PrivateKey.generate()
    ephemeral_public = ephemeral.public_key().public_bytes_raw()
    key = _seal_key(ephemeral.exchange(recipient), registry, ephemeral_public, ttp_public_key)
    frame = pl.DataFrame({"bsn": bsn.cast(pl.String), "p1": p1_hex}).with_row_index("row")
    present = frame.filter(pl.col("bsn").is_not_null())
    registry_bytes = registry.encode()
    sealed = encrypt_each(
        key, present["bsn"].cast(pl.Binary), [registry_bytes, present["p1"].str.decode("hex")]
    )
    prefix = f"{SEAL_PREFIX}.{base64.b64encode(ephemeral_public).decode()}."
    encoded = pl.Series(sealed, dtype=pl.Binary).bin.encode("base64")
    out = pl.repeat(None, len(bsn), dtype=pl.String, eager=True)
    return out.scatter(present["row"], prefix + encoded).alias(bsn.name)


def _open_batch(
    key: bytes, sealed: pl.Series, p1: pl.Series, registry: bytes
) -> list[bytes] | None:
    """The BSNs of equally long sealed values that all open, in one batch; None otherwise
    (the caller then opens row by row, to name the row that fails)."""
    rows, p1_rows = binary_rows(sealed), binary_rows(p1)
    if rows is None or rows.shape[1] <= 16 or p1_rows is None or p1_rows.shape[1] != 32:
        return None
    plain, authentic = BatchSIV(key).decrypt(rows, [registry, p1_rows])
    return row_bytes(plain) if bool(authentic.all()) else None


@dataclass(frozen=True)
class SealOpener:
    private_key: X25519PrivateKey

    def public_bytes(self) -> bytes:
        return self.private_key.public_key().public_bytes_raw()

    def open(self, sealed: pl.Series, p1_hex: pl.Series, *, registry: str) -> list[bytes]:
        """The BSNs, row for row. Raises SealError naming the first row that does not open."""
        parts = sealed.str.split_exact(".", 2).struct.unnest()
        tags, publics, ciphers = (parts[c] for c in parts.columns)
        recipient = self.public_bytes()
        registry_bytes = registry.encode()
        sivs: dict[str, AESSIV] = {}
        out: list[bytes] = []
        append = out.append
        p1_series = p1_hex.str.decode("hex")
        tag_ok_series = (tags == SEAL_PREFIX).fill_null(False)
        # Decoded in one vectorised pass; a value Polars cannot decode (null) takes the slow path
        # below, so what opens is exactly what `base64.b64decode` would let through.
        decoded_series = ciphers.str.decode("base64", strict=False)
        uniform = (
            len(sealed) > 0
            and bool(tag_ok_series.all())
            and publics.null_count() == 0
            and publics.n_unique() == 1
            and decoded_series.null_count() == 0
            and p1_series.null_count() == 0
        )
        if uniform:
            # One upload, one ephemeral key, every value well-formed: the common case opens as
            # one batch. Any failure is looked for again row by row below, so the error names
            # the same row as it always did.
            key = self._key_for(str(publics[0]), registry, recipient, 0)
            opened = _open_batch(key, decoded_series, p1_series, registry_bytes)
            if opened is not None:
                return opened
        tag_ok = tag_ok_series.to_list()
        p1s = p1_series.to_list()
        decoded = decoded_series.to_list()
        last_public: str | None = None
        siv: AESSIV | None = None
        for position, (ok, public, cipher, raw, p1) in enumerate(
            zip(tag_ok, publics.to_list(), ciphers.to_list(), decoded, p1s, strict=True)
        ):
            if not ok or public is None or cipher is None or p1 is None:
                raise SealError(position)
            if public != last_public:  # one ephemeral key per upload: nearly always the same
                siv = sivs.get(public)
                if siv is None:
                    siv = self._cipher_for(public, registry, recipient, position)
                    sivs[public] = siv
                last_public = public
            assert siv is not None
            try:
                append(
                    siv.decrypt(
                        base64.b64decode(cipher) if raw is None else raw, [registry_bytes, p1]
                    )
                )
            except (InvalidTag, ValueError, binascii.Error):
                raise SealError(position) from None
        return out

    def _cipher_for(self, public: str, registry: str, recipient: bytes, position: int) -> AESSIV:
        return AESSIV(self._key_for(public, registry, recipient, position))

    def _key_for(self, public: str, registry: str, recipient: bytes, position: int) -> bytes:
        try:
            ephemeral = base64.b64decode(public, validate=True)
            shared = self.private_key.exchange(X25519PublicKey.from_public_bytes(ephemeral))
        except (ValueError, binascii.Error):
            raise SealError(position) from None
        return _seal_key(shared, registry, ephemeral, recipient)
