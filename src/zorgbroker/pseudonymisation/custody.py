"""Key custody: where keys live, how they are created, and what must never leak.

Layout under ZORGBROKER_HOME (folders 0700, key files 0600):

    ttp/keys/audit.key                  K_audit, keys the audit log's hash chain
    ttp/keys/seal.key                   X25519 private key; sources seal BSNs to its public half
    ttp/keys/registry-<name>-k<n>.key   K_registry, version n (the highest is current)
    ttp/keys/reid-<name>.key            K_reid for AES-SIV, re-identifiable registries only
    ttp/keys/source-<name>.key          K_source of a project in the TTP's custody: what it wraps
                                        for browser users and hands to source installations
    source/project-<registry>.key       K_source of one project (method zb2), shared by the
                                        sources that deliver to that registry only
    source/source.key                   the one K_source of method zb1, read by nothing now
"""

from __future__ import annotations

import base64
import contextlib
import os
import re
import secrets
import stat
import sys
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey

from zorgbroker.pseudonymisation.method import check_registry_name

KEY_BYTES = 32
REID_KEY_BYTES = 64  # AES-256-SIV takes a double-length key

_REGISTRY_KEY = re.compile(r"registry-([a-z][a-z0-9-]{0,31})-k([1-9][0-9]*)\.key")
_PROJECT_KEY = re.compile(r"project-([a-z][a-z0-9-]{0,31})\.key")


class KeyCustodyError(Exception):
    """A key file is missing, damaged, or readable by others."""


def zorgbroker_home() -> Path:
    """ZORGBROKER_HOME, or the per-user data folder the platform prescribes."""
    configured = os.environ.get("ZORGBROKER_HOME")
    if configured:
        return Path(configured).expanduser()
    if sys.platform == "win32":
        base = Path(os.environ.get("LOCALAPPDATA", Path.home() / "AppData" / "Local"))
    elif sys.platform == "darwin":
        base = Path.home() / "Library" / "Application Support"
    else:
        base = Path(os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share")
    return base / "zorgbroker"


def ttp_dir(home: Path) -> Path:
    return home / "ttp"


def source_dir(home: Path) -> Path:
    return home / "source"


def private_dir(path: Path) -> Path:
    """Create the folder (and parents) if needed; the folder itself only for its owner."""
    path.mkdir(parents=True, exist_ok=True)
    with contextlib.suppress(OSError):  # e.g. a folder owned by someone else: keep going
        path.chmod(0o700)
    return path


def write_new_key(path: Path, key: bytes) -> bool:
    """Write a key file with mode 0600 unless one exists already; True when written.

    The key is written under a temporary name and then linked into place, so a concurrent reader
    never sees half a key and two writers never both win.
    """
    private_dir(path.parent)
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(8)}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(key)
            fh.flush()
            os.fsync(fh.fileno())
        try:
            os.link(tmp, path)
        except FileExistsError:
            return False
        return True
    finally:
        tmp.unlink(missing_ok=True)


def read_key(path: Path, *, length: int) -> bytes:
    try:
        mode = path.stat().st_mode
    except FileNotFoundError:
        raise KeyCustodyError(f"Sleutelbestand {path} ontbreekt.") from None
    if sys.platform != "win32" and mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise KeyCustodyError(
            f"Sleutelbestand {path} is leesbaar voor anderen; zet de rechten op 0600."
        )
    key = path.read_bytes()
    if len(key) != length:
        raise KeyCustodyError(f"Sleutelbestand {path} is beschadigd (verkeerde lengte).")
    return key


def key_or_create(path: Path, *, length: int) -> bytes:
    if not path.exists():
        write_new_key(path, secrets.token_bytes(length))
    return read_key(path, length=length)


def source_key_path(home: Path, registry: str) -> Path:
    return source_dir(home) / f"project-{check_registry_name(registry)}.key"


def source_key(home: Path, registry: str) -> bytes:
    """K_source of the project of `registry` (method zb2), created on first use.

    One key per receiving registry's project: the same BSN gets unrelated stage-1 pseudonyms for
    different registries, so registries comparing what they relayed cannot link patients.
    The TTP is the project key's custodian (it wraps it for browser users): when the TTP of this
    same installation holds the project's key already, the source side takes that one, so the
    command line and the browser make the same P1.
    """
    path = source_key_path(home, registry)
    custodian = TTPKeys(ttp_dir(home)).source_key_path(registry)
    if not path.exists() and custodian.exists():
        write_new_key(path, read_key(custodian, length=KEY_BYTES))
    return key_or_create(path, length=KEY_BYTES)


def zb1_source_key(home: Path) -> Path | None:
    """The single source key of an installation set up under method zb1, if it is still there:
    pseudonyms made with it differ from zb2's (see docs/pseudonymisation.md, section 2.1)."""
    path = source_dir(home) / "source.key"
    return path if path.exists() else None


def source_projects(home: Path) -> list[str]:
    """The registries whose project key this source side holds."""
    folder = source_dir(home)
    if not folder.exists():
        return []
    return sorted(m.group(1) for p in folder.iterdir() if (m := _PROJECT_KEY.fullmatch(p.name)))


class TTPKeys:
    """The TTP's key folder. Keys are read when needed; nothing outside this folder holds them."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.folder = root / "keys"

    def init(self) -> None:
        private_dir(self.root)
        private_dir(self.folder)
        self.audit_key()
        self.seal_key()

    def audit_key(self) -> bytes:
        return key_or_create(self.folder / "audit.key", length=KEY_BYTES)

    def seal_key(self) -> X25519PrivateKey:
        raw = key_or_create(self.folder / "seal.key", length=KEY_BYTES)
        return X25519PrivateKey.from_private_bytes(raw)

    def seal_public_key(self) -> bytes:
        return self.seal_key().public_key().public_bytes_raw()

    def registry_versions(self, registry: str) -> list[int]:
        check_registry_name(registry)
        if not self.folder.exists():
            return []
        versions = []
        for path in self.folder.iterdir():
            match = _REGISTRY_KEY.fullmatch(path.name)
            if match and match.group(1) == registry:
                versions.append(int(match.group(2)))
        return sorted(versions)

    def registries(self) -> list[str]:
        if not self.folder.exists():
            return []
        names = {
            m.group(1) for p in self.folder.iterdir() if (m := _REGISTRY_KEY.fullmatch(p.name))
        }
        return sorted(names)

    def _registry_path(self, registry: str, version: int) -> Path:
        return self.folder / f"registry-{registry}-k{version}.key"

    def registry_key(self, registry: str, version: int | None = None) -> tuple[int, bytes, bool]:
        """(version, K_registry, created): the current key unless a version is asked for.
        A registry's first key (k1) is created on first use."""
        created = False
        if version is None:
            versions = self.registry_versions(registry)
            if not versions:
                created = write_new_key(
                    self._registry_path(registry, 1), secrets.token_bytes(KEY_BYTES)
                )
                versions = [1]
            version = versions[-1]
        key = read_key(self._registry_path(registry, version), length=KEY_BYTES)
        return version, key, created

    def rotate(self, registry: str) -> int:
        """Create the next key version, which becomes current; older versions stay until retired."""
        versions = self.registry_versions(registry) or [0]
        version = versions[-1] + 1
        if not write_new_key(
            self._registry_path(registry, version), secrets.token_bytes(KEY_BYTES)
        ):
            raise KeyCustodyError(f"Sleutelversie k{version} van {registry} bestaat al.")
        return version

    def retire(self, registry: str, version: int) -> None:
        """Destroy an old key version after re-keying; the current version cannot be retired."""
        versions = self.registry_versions(registry)
        if version not in versions:
            raise KeyCustodyError(f"Sleutelversie k{version} van {registry} bestaat niet.")
        if version == versions[-1]:
            raise KeyCustodyError("De huidige sleutelversie kan niet worden vernietigd.")
        path = self._registry_path(registry, version)
        with path.open("r+b") as fh:  # overwrite before unlinking; best effort on SSDs
            fh.write(secrets.token_bytes(KEY_BYTES))
            fh.flush()
            os.fsync(fh.fileno())
        path.unlink()

    def reid_key(self, registry: str) -> bytes:
        check_registry_name(registry)
        return key_or_create(self.folder / f"reid-{registry}.key", length=REID_KEY_BYTES)

    def source_key_path(self, registry: str) -> Path:
        return self.folder / f"source-{check_registry_name(registry)}.key"

    def key_files(self) -> list[Path]:
        if not self.folder.exists():
            return []
        return sorted(p for p in self.folder.glob("*.key") if p.is_file())


def _encodings(key: bytes) -> list[bytes]:
    forms = [
        key,
        key.hex().encode(),
        key.hex().upper().encode(),
        base64.b64encode(key),
        base64.urlsafe_b64encode(key),
        base64.b64encode(key).rstrip(b"="),
        base64.urlsafe_b64encode(key).rstrip(b"="),
        base64.b32encode(key),
    ]
    return list(dict.fromkeys(forms))


def key_material(home: Path) -> list[bytes]:
    """Every secret key of the TTP and of the source side under `home`, in the forms a leak
    would take (raw, hex, base64, base32): what a test searches the registry side for."""
    files = TTPKeys(ttp_dir(home)).key_files()
    if source_dir(home).exists():  # the project keys and a zb1 installation's source.key
        files.extend(sorted(p for p in source_dir(home).glob("*.key") if p.is_file()))
    material: list[bytes] = []
    for path in files:
        material.extend(_encodings(path.read_bytes()))
    return material
