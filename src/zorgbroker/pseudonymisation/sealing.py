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
    siv = AESSIV(
        _seal_key(ephemeral.exchange(recipient), registry, ephemeral_public, ttp_public_key)
    )
    frame = pl.DataFrame({"bsn": bsn.cast(pl.String), "p1": p1_hex}).with_row_index("row")
    present = frame.filter(pl.col("bsn").is_not_null())
    registry_bytes = registry.encode()
    bsns = present["bsn"].cast(pl.Binary).to_list()
    p1s = present["p1"].str.decode("hex").to_list()
    sealed = [siv.encrypt(b, [registry_bytes, p]) for b, p in zip(bsns, p1s, strict=True)]
    prefix = f"{SEAL_PREFIX}.{base64.b64encode(ephemeral_public).decode()}."
    encoded = pl.Series(sealed, dtype=pl.Binary).bin.encode("base64")
    out = pl.repeat(None, len(bsn), dtype=pl.String, eager=True)
    return out.scatter(present["row"], prefix + encoded).alias(bsn.name)


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
        p1s = p1_series.to_list()
        tag_ok_series = (tags == SEAL_PREFIX).fill_null(False)
        # Decoded in one vectorised pass; a value Polars cannot decode (null) takes the slow path
        # below, so what opens is exactly what `base64.b64decode` would let through.
        decoded_series = ciphers.str.decode("base64", strict=False)
        decoded = decoded_series.to_list()
        uniform = (
            len(sealed) > 0
            and bool(tag_ok_series.all())
            and publics.null_count() == 0
            and publics.n_unique() == 1
            and decoded_series.null_count() == 0
            and p1_series.null_count() == 0
        )
        if uniform:
            # One upload, one ephemeral key, every value well-formed: the common case opens in a
            # tight loop. Any failure is looked for again row by row below, so the error names
            # the same row as it always did.
            first = str(publics[0])
            shared = self._cipher_for(first, registry, recipient, 0)
            decrypt = shared.decrypt
            pairs = zip(decoded, p1s, strict=True)
            try:
                return [decrypt(raw, [registry_bytes, p1]) for raw, p1 in pairs]
            except (InvalidTag, ValueError):
                sivs[first] = shared
        tag_ok = tag_ok_series.to_list()
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
        try:
            ephemeral = base64.b64decode(public, validate=True)
            shared = self.private_key.exchange(X25519PublicKey.from_public_bytes(ephemeral))
        except (ValueError, binascii.Error):
            raise SealError(position) from None
        return AESSIV(_seal_key(shared, registry, ephemeral, recipient))
