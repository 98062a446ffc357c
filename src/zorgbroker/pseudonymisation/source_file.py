"""The source side's stage-1 file: what a practice's send module transmits to the registry.

Identifying fields leave the source only as stage-1 pseudonyms (and, for a re-identifiable
registry, the BSN sealed for the TTP), reduced (birth year, four-digit postcode) or not at all.
"""

from __future__ import annotations

import re
import zipfile
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, Protocol

import polars as pl

from zorgbroker.pseudonymisation.bsn import normalise_bsn
from zorgbroker.pseudonymisation.method import BSN_LABEL, check_registry_name, is_reidentifiable
from zorgbroker.pseudonymisation.reductions import Identifying, reduce_identifying
from zorgbroker.pseudonymisation.sealing import seal_bsns
from zorgbroker.pseudonymisation.source import normalise_text_expr, stage1

#: Suffix of the column that carries a field's sealed BSN for the TTP.
SEALED_SUFFIX = "_verzegeld"

_AGE = re.compile(r"\s*age\(\s*(\w+)\s*,\s*(\w+)\s*\)\s*")


class _Field(Protocol):
    name: str
    identifying: Any


class _Table(Protocol):
    name: str
    file: str | None
    derive: Any

    @property
    def fields(self) -> Any: ...


@dataclass
class Stage1Summary:
    rows: dict[str, int] = field(default_factory=dict)
    #: Per table, 1-based row numbers whose BSN failed the eleven-test (no values, ever).
    invalid_bsn_rows: dict[str, list[int]] = field(default_factory=dict)


def stage1_frame(
    frame: pl.DataFrame,
    kinds: dict[str, Identifying | None],
    *,
    key: bytes,
    registry: str,
    ttp_public_key: bytes | None,
    age_at_event: dict[str, tuple[str, str]] | None = None,
) -> tuple[pl.DataFrame, pl.Series]:
    """One batch of text rows made fit to leave the source. Returns the frame and, per row,
    whether a BSN field failed the eleven-test."""
    reduced = reduce_identifying(frame, kinds, age_at_event=age_at_event)
    invalid = pl.repeat(False, frame.height, dtype=pl.Boolean, eager=True)
    replaced: list[pl.Series] = []
    for name, kind in kinds.items():
        if kind != "pseudonymise" or name not in frame.columns:
            continue
        raw = frame[name]
        if name == BSN_LABEL:
            normal = normalise_bsn(raw)
            invalid = invalid | (raw.is_not_null() & normal.is_null())
        else:
            normal = pl.select(normalise_text_expr(pl.lit(raw))).to_series()
        p1 = stage1(normal, key=key, label=name).alias(name)
        replaced.append(p1)
        if name == BSN_LABEL and is_reidentifiable(registry):
            if ttp_public_key is None:
                raise ValueError("De publieke sleutel van de TTP ontbreekt.")
            sealed = seal_bsns(normal, p1, ttp_public_key=ttp_public_key, registry=registry)
            replaced.append(sealed.alias(name + SEALED_SUFFIX))
    return reduced.with_columns(replaced), invalid


def age_derivations(table: _Table) -> dict[str, tuple[str, str]]:
    """`age(birth, event)` derivations of a table specification: computed before the birth date
    is cut to its year."""
    out: dict[str, tuple[str, str]] = {}
    for column, expression in dict(table.derive or {}).items():
        match = _AGE.fullmatch(str(expression))
        if match:
            out[match.group(1)] = (match.group(2), column)
    return out


def _batches(upload: Any, table: _Table, multi: bool) -> Iterator[pl.DataFrame]:
    source = upload.tables.get(table.name if multi else "main")
    if source is None:
        return
    yield from source.batches()


def write_stage1_file(
    file: Path,
    dataset: str,
    registry: str,
    output: Path,
    *,
    key: bytes,
    ttp_public_key: bytes | None,
) -> Stage1Summary:
    """Read an upload as the intake does, and write its stage-1 version: a CSV (`;`) for a
    single-table dataset, a ZIP of CSVs for a multi-table one."""
    from zorgbroker.intake.api import load_dataset, open_upload

    check_registry_name(registry)
    spec = load_dataset(dataset)
    if spec.registry != registry:
        raise ValueError(
            f"Dataset {dataset} is bestemd voor register {spec.registry}, niet voor {registry}."
        )
    multi = len(spec.tables) > 1
    upload = open_upload(file, tables=[t.name for t in spec.tables] if multi else None)
    summary = Stage1Summary()
    with ExitStack() as stack:
        archive = (
            stack.enter_context(zipfile.ZipFile(output, "w", zipfile.ZIP_DEFLATED))
            if multi
            else None
        )
        for table in spec.tables:
            written = _write_table(
                upload, table, multi, archive, output, key, registry, ttp_public_key
            )
            if written is not None:
                summary.rows[table.name], summary.invalid_bsn_rows[table.name] = written
    return summary


def _write_table(
    upload: Any,
    table: _Table,
    multi: bool,
    archive: zipfile.ZipFile | None,
    output: Path,
    key: bytes,
    registry: str,
    ttp_public_key: bytes | None,
) -> tuple[int, list[int]] | None:
    kinds: dict[str, Identifying | None] = {f.name: f.identifying for f in table.fields}
    ages = age_derivations(table)
    # Only what the specification knows leaves the source: an extra column in an export could
    # hold anything, a name included.
    keep = [name for name, kind in kinds.items() if kind != "drop"]
    keep += [column for _, column in ages.values()]
    keep += [name + SEALED_SUFFIX for name, kind in kinds.items() if kind == "pseudonymise"]
    rows = 0
    bad: list[int] = []
    with ExitStack() as stack:  # one open member at a time: ZipFile allows no more
        sink: IO[bytes] | None = None
        for batch in _batches(upload, table, multi):
            out, invalid = stage1_frame(
                batch,
                kinds,
                key=key,
                registry=registry,
                ttp_public_key=ttp_public_key,
                age_at_event=ages,
            )
            bad.extend((invalid.arg_true() + rows + 1).to_list())
            if sink is None:
                if archive is not None:
                    sink = stack.enter_context(archive.open(table.file or f"{table.name}.csv", "w"))
                else:
                    sink = stack.enter_context(output.open("wb"))
            out = out.select([c for c in keep if c in out.columns])
            out.write_csv(sink, separator=";", include_header=rows == 0)
            rows += batch.height
        if sink is None:
            return None
    return rows, bad
