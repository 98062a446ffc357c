"""The registry's side of a stage-1 file: recognise it, and refuse anything that is not one.

The registry accepts only stage-1 files: a raw export (or a stage-1 file with an identifier in
the clear, an unknown column, a foreign dataset or method) is refused with a BF message naming
the table, column and row, never a value, and the caller deletes it at once.
"""

from __future__ import annotations

import re
import tempfile
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import polars as pl

from zorgbroker.pseudonymisation.method import METHOD_VERSION, STAGE1_PATTERN
from zorgbroker.pseudonymisation.sealing import SEAL_PREFIX
from zorgbroker.pseudonymisation.source_file import SEALED_SUFFIX, age_derivations
from zorgbroker.pseudonymisation.stage1_manifest import FINDINGS_COLUMN, MANIFEST_NAME, Manifest

#: Not a stage-1 file at all (a raw export, another file).
NOT_STAGE1 = "BF-020"
#: A stage-1 file that holds an identifier in the clear (or a column that could hold one).
IN_THE_CLEAR = "BF-021"
#: A stage-1 file of another dataset, version, registry or method, or damaged findings.
MISMATCH = "BF-022"

#: The manifest is small; anything larger is not one.
_MAX_MANIFEST_BYTES = 1024 * 1024
_FOUR_DIGITS = r"^[0-9]{4}$"
_FINDING = re.compile(r"[a-z0-9_\-]+=[A-Z]{1,2}-[0-9]{3}")


class Stage1Refused(Exception):
    """The file is refused; `code` is the BF message, `detail` a Dutch sentence without values."""

    def __init__(self, code: str, detail: str) -> None:
        super().__init__(f"{code}: {detail}")
        self.code = code
        self.detail = detail


@dataclass(frozen=True)
class Stage1File:
    path: Path
    manifest: Manifest


@dataclass(frozen=True)
class Stage1Tables:
    """A checked stage-1 file: its manifest and, per table, its CSV unpacked (`;`, UTF-8)."""

    manifest: Manifest
    members: dict[str, Path]

    def check_input(self) -> Any:
        """What the registry's check (`intake.api.check_stage1`) takes: an `Stage1Input`."""
        from zorgbroker.intake.api import FileInfo, Stage1Input

        m = self.manifest
        return Stage1Input(
            file=FileInfo(**m.file),
            file_messages=[(f.code, f.table, f.field, f.value, f.text) for f in m.file_messages],
            date_formats=dict(m.date_formats),
            records=sum(m.records.values()) if m.refused else 0,
            refused=m.refused,
            members=dict(self.members),
        )


def read_manifest(path: Path) -> Manifest:
    """The manifest of a stage-1 file; Stage1Refused(BF-020) for anything else."""
    try:
        with zipfile.ZipFile(path) as archive:
            try:
                info = archive.getinfo(MANIFEST_NAME)
            except KeyError:
                raise Stage1Refused(NOT_STAGE1, "het bestand heeft geen stap-1-manifest") from None
            if info.file_size > _MAX_MANIFEST_BYTES:
                raise Stage1Refused(NOT_STAGE1, "het stap-1-manifest is te groot")
            raw = archive.read(info)
    except (zipfile.BadZipFile, OSError):
        raise Stage1Refused(NOT_STAGE1, "het bestand is geen stap-1-archief (ZIP)") from None
    try:
        return Manifest.from_json(raw)
    except ValueError as error:
        raise Stage1Refused(NOT_STAGE1, str(error)) from None


def open_stage1_file(
    path: Path, spec: Any, *, registry: str, max_unpacked_bytes: int = 8 * 1024**3
) -> Stage1File:
    """Check that `path` is a stage-1 file of `spec` for `registry` under this method, with no
    identifier in the clear in any row. Raises Stage1Refused (BF-020, BF-021 or BF-022)."""
    with opened_stage1_file(path, spec, registry=registry, max_unpacked_bytes=max_unpacked_bytes):
        pass
    return Stage1File(path, read_manifest(path))


@contextmanager
def opened_stage1_file(
    path: Path, spec: Any, *, registry: str, max_unpacked_bytes: int = 8 * 1024**3
) -> Iterator[Stage1Tables]:
    """As `open_stage1_file`, and the checked tables unpacked for the registry's check: one CSV
    per table in a private temporary folder, removed when the block ends."""
    from zorgbroker.intake.api import source_checks

    manifest = read_manifest(path)
    _check_identity(manifest, spec, registry)
    if manifest.refused:
        if manifest.members:
            raise Stage1Refused(MISMATCH, "een afgekeurde export draagt geen tabellen mee")
        yield Stage1Tables(manifest, {})
        return
    checks = source_checks(spec)
    with _members(path, manifest, spec, max_unpacked_bytes) as members:
        for table in spec.tables:
            member = members.get(table.name)
            if member is not None:
                _check_table(member, table, checks[table.name].pairs, spec, manifest)
        yield Stage1Tables(manifest, members)


def _check_identity(manifest: Manifest, spec: Any, registry: str) -> None:
    expected = {
        "dataset": (manifest.dataset, spec.dataset),
        "versie": (manifest.dataset_version, spec.version),
        "register": (manifest.registry, registry),
        "methode": (manifest.method, METHOD_VERSION),
    }
    for what, (got, wanted) in expected.items():
        if got != wanted:
            raise Stage1Refused(
                MISMATCH, f"{what} van het stap-1-bestand is {got!r}, verwacht {wanted!r}"
            )
    tables = {t.name: t for t in spec.tables}
    for name in [*manifest.members, *manifest.records, *manifest.date_formats]:
        if name not in tables:
            raise Stage1Refused(MISMATCH, f"het manifest noemt een onbekende tabel {name!r}")
    if manifest.date_formats and set(manifest.date_formats.values()) - {"%Y-%m-%d", "%d-%m-%Y"}:
        raise Stage1Refused(MISMATCH, "het manifest noemt een onbekend datumformaat")


@contextmanager
def _members(
    path: Path, manifest: Manifest, spec: Any, max_unpacked_bytes: int
) -> Iterator[dict[str, Path]]:
    """The table members, unpacked into a private temporary folder that is always removed."""
    with zipfile.ZipFile(path) as archive, tempfile.TemporaryDirectory() as folder:
        names = set(archive.namelist())
        expected = set(manifest.members.values()) | {MANIFEST_NAME}
        if names - expected:
            raise Stage1Refused(MISMATCH, "het archief bevat bestanden die het manifest niet noemt")
        total = sum(archive.getinfo(name).file_size for name in names)
        if total > max_unpacked_bytes:
            raise Stage1Refused(MISMATCH, "het stap-1-archief pakt te groot uit")
        out: dict[str, Path] = {}
        for number, (table, member) in enumerate(sorted(manifest.members.items())):
            if member not in names:
                raise Stage1Refused(MISMATCH, f"tabel {table} ontbreekt in het archief")
            target = Path(folder) / f"{number}.csv"
            with archive.open(member) as source, target.open("wb") as sink:
                while chunk := source.read(1 << 20):
                    sink.write(chunk)
            out[table] = target
        yield out


def _allowed_columns(table: Any, spec: Any) -> dict[str, str | None]:
    """Column -> its kind (None for a plain field) of every column a stage-1 table may have."""
    allowed: dict[str, str | None] = {}
    for f in table.fields:
        if f.identifying == "drop":
            continue
        allowed[f.name] = f.identifying
        if f.identifying == "pseudonymise" and spec.reidentifiable:
            allowed[f.name + SEALED_SUFFIX] = "sealed"
    for _, column in age_derivations(table).values():
        allowed[column] = "age"
    allowed[FINDINGS_COLUMN] = "findings"
    return allowed


def _check_table(
    member: Path,
    table: Any,
    pairs: frozenset[tuple[str, str]],
    spec: Any,
    manifest: Manifest,
) -> None:
    try:
        frame = pl.scan_csv(member, separator=";", infer_schema=False, encoding="utf8")
        columns = frame.collect_schema().names()
    except pl.exceptions.PolarsError:
        raise Stage1Refused(MISMATCH, f"tabel {table.name} is geen leesbare CSV") from None
    allowed = _allowed_columns(table, spec)
    dropped = {f.name for f in table.fields if f.identifying == "drop"}
    for position, column in enumerate(columns, start=1):
        # A column name may be a data row in disguise: it is named by position only.
        if column in dropped:
            raise Stage1Refused(
                IN_THE_CLEAR, f"tabel {table.name}, kolom {position}: een veld dat de bron weglaat"
            )
        if column not in allowed:
            raise Stage1Refused(
                MISMATCH, f"tabel {table.name}, kolom {position}: onbekend in de specificatie"
            )
    patterns = {
        "pseudonymise": STAGE1_PATTERN,
        "year": _FOUR_DIGITS,
        "postcode4": _FOUR_DIGITS,
        "sealed": "^" + re.escape(SEAL_PREFIX + "."),
        "age": r"^-?[0-9]{1,3}$",
    }
    checked = [c for c in columns if allowed[c] in patterns]
    row = pl.int_range(1, pl.len() + 1)
    try:
        queries = [
            row.filter(pl.col(c).is_not_null() & ~pl.col(c).str.contains(patterns[allowed[c]]))  # type: ignore[index]
            .first()
            .alias(c)
            for c in checked
        ]
        first_bad = frame.select(*queries, pl.len().alias("__rows")).collect(engine="streaming")
        tokens = (
            frame.select(pl.col(FINDINGS_COLUMN).str.split(" ").explode().drop_nulls().unique())
            .collect(engine="streaming")
            .to_series()
            .to_list()
            if FINDINGS_COLUMN in columns
            else []
        )
    except pl.exceptions.PolarsError:
        raise Stage1Refused(MISMATCH, f"tabel {table.name} is geen leesbare CSV") from None
    rows = int(first_bad["__rows"][0])
    if rows != manifest.records.get(table.name, rows):
        raise Stage1Refused(
            MISMATCH,
            f"tabel {table.name} heeft {rows} rijen, het manifest noemt er een ander aantal",
        )
    for column in checked:
        bad_row = first_bad[column][0]
        if bad_row is not None:
            raise Stage1Refused(
                IN_THE_CLEAR if allowed[column] != "age" else MISMATCH,
                f"tabel {table.name}, rij {bad_row}, kolom {column}: geen "
                f"{_KIND_NAMES[allowed[column] or '']}",
            )
    known = {f"{field}={code}" for field, code in pairs}
    for token in tokens:
        if not _FINDING.fullmatch(token) or token not in known:
            raise Stage1Refused(
                MISMATCH, f"tabel {table.name}: onbekende bronbevinding in {FINDINGS_COLUMN}"
            )


_KIND_NAMES = {
    "pseudonymise": "stap-1-pseudoniem (64 hexadecimale tekens)",
    "year": "geboortejaar (4 cijfers)",
    "postcode4": "postcode van 4 cijfers",
    "sealed": "verzegelde waarde",
    "age": "leeftijd",
}
