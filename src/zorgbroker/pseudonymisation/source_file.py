"""The source side's stage-1 file: what a practice's send module transmits to the registry.

Identifying fields leave the source only as stage-1 pseudonyms (and, for a re-identifiable
registry, the BSN sealed for the TTP), reduced (birth year, four-digit postcode) or not at all.
The checks that read them in the clear run here, and their findings travel with each row.
"""

from __future__ import annotations

import datetime as dt
import io
import os
import re
import secrets
import zipfile
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import IO, Any, Protocol

import polars as pl

from zorgbroker.intake import api as intake_api
from zorgbroker.pseudonymisation.bsn import normalise_bsn
from zorgbroker.pseudonymisation.method import (
    BSN_LABEL,
    METHOD_VERSION,
    check_registry_name,
    fingerprint,
    is_reidentifiable,
)
from zorgbroker.pseudonymisation.reductions import Identifying, reduce_identifying
from zorgbroker.pseudonymisation.sealing import seal_bsns
from zorgbroker.pseudonymisation.source import normalise_text_expr, stage1
from zorgbroker.pseudonymisation.stage1_manifest import (
    FINDINGS_COLUMN,
    MANIFEST_NAME,
    FileMessage,
    Manifest,
)

#: Suffix of the column that carries a field's sealed BSN for the TTP (named by the check).
SEALED_SUFFIX: str = intake_api.SEALED_SUFFIX

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
    #: The source's check refused the export: the stage-1 file carries only its messages.
    refused: bool = False
    #: The source's own check of the export (it may show identifying findings to the source).
    source_report: Any = None


def stage1_frame(
    frame: pl.DataFrame,
    kinds: dict[str, Identifying | None],
    *,
    key: bytes,
    registry: str,
    ttp_public_key: bytes | None,
    age_at_event: dict[str, tuple[str, str]] | None = None,
    seal: bool = True,
) -> tuple[pl.DataFrame, pl.Series]:
    """One batch of text rows made fit to leave the source. Returns the frame and, per row,
    whether a BSN field failed the eleven-test. `seal=False` (a test upload) seals nothing, also
    for a re-identifiable registry."""
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
        if seal and name == BSN_LABEL and is_reidentifiable(registry):
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


def write_stage1_file(
    file: Path,
    dataset: str,
    registry: str,
    output: Path,
    *,
    key: bytes,
    ttp_public_key: bytes | None,
    today: dt.date | None = None,
    organisation: str | None = None,
    display_name: str | None = None,
    seal: bool = True,
) -> Stage1Summary:
    """Check an export at the source and write its stage-1 file (a ZIP: the manifest and one CSV
    per table; see `stage1_manifest`). Identifying fields leave only as stage-1 pseudonyms or
    reductions; the outcome of the checks that read them travels as findings per row.

    The file appears at `output` only when complete: an interrupted run leaves nothing behind.
    """
    from zorgbroker.intake.api import load_dataset, source_findings

    check_registry_name(registry)
    spec = load_dataset(dataset)
    if spec.registry != registry:
        raise ValueError(
            f"Dataset {dataset} is bestemd voor register {spec.registry}, niet voor {registry}."
        )
    day = today or dt.date.today()
    found = source_findings(
        file, spec, today=day, organisation=organisation, display_name=display_name
    )
    report = found.report
    # Refused only for what the file carries: a registry file rule (BF-202, BF-204, ...) is not
    # carried (the registry computes it, docs/pseudonymisation.md 8.2), so its tables must travel
    # for the registry to refuse the file with the rule's own message. As the browser decides.
    refused = any(m.code.startswith("BF-") for m in found.file_messages)
    manifest = Manifest(
        dataset=spec.dataset,
        dataset_version=spec.version,
        registry=registry,
        method=METHOD_VERSION,
        source_key_fingerprint=fingerprint(key),
        checked_on=day.isoformat(),
        file=report.file.as_json(),
        file_messages=[
            FileMessage(code=m.code, table=m.table, field=m.field, value=m.value, text=m.text)
            for m in found.file_messages
        ],
        refused=refused,
    )
    summary = Stage1Summary(refused=refused, source_report=report)
    tmp = output.with_name(f".{output.name}.{secrets.token_hex(6)}.tmp")
    try:
        # Pseudonyms and sealed values hardly compress: the fastest level does as well.
        with zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as archive:
            if refused:
                manifest = replace(manifest, records={spec.main_table.name: report.records})
            else:
                manifest = _write_tables(
                    archive, file, spec, found, manifest, summary, key, ttp_public_key, seal
                )
            archive.writestr(MANIFEST_NAME, manifest.to_json())
        os.replace(tmp, output)
    finally:
        tmp.unlink(missing_ok=True)
    return summary


def _write_tables(
    archive: zipfile.ZipFile,
    file: Path,
    spec: Any,
    found: Any,
    manifest: Manifest,
    summary: Stage1Summary,
    key: bytes,
    ttp_public_key: bytes | None,
    seal: bool,
) -> Manifest:
    from zorgbroker.intake.api import open_upload

    multi = spec.multi_table
    upload = open_upload(file, tables=[t.name for t in spec.tables] if multi else None)
    members: dict[str, str] = {}
    records: dict[str, int] = {}
    formats: dict[str, str] = {}
    for table in spec.tables:
        source = upload.tables.get(table.name if multi else "main")
        if source is None:
            continue
        findings = found.per_table[table.name]
        # A single table's trailing blank rows are no records (the check leaves them out too).
        limit = None if multi else found.report.records
        member = table.file or f"{table.name}.csv"
        with archive.open(member, "w") as sink:
            written = _write_table(
                source, table, sink, findings, limit, key, manifest.registry, ttp_public_key, seal
            )
        members[table.name] = member
        records[table.name], formats[table.name] = written.rows, written.date_format
        summary.rows[table.name] = written.rows
        summary.invalid_bsn_rows[table.name] = written.invalid_bsn_rows
    return replace(manifest, members=members, records=records, date_formats=formats)


@dataclass
class _Written:
    rows: int
    date_format: str
    invalid_bsn_rows: list[int]


#: Rows of a table whose date values decide its date format (as the check decides it).
_DATE_SAMPLE_ROWS = 10_000


def _write_table(
    source: Any,
    table: Any,
    sink: IO[bytes],
    findings: pl.DataFrame,
    limit: int | None,
    key: bytes,
    registry: str,
    ttp_public_key: bytes | None,
    seal: bool,
) -> _Written:
    from zorgbroker.intake.api import date_format_of, spec_column_names

    kinds: dict[str, Identifying | None] = {f.name: f.identifying for f in table.fields}
    ages = age_derivations(table)
    # Only what the specification knows leaves the source: an extra column in an export could
    # hold anything, a name included.
    keep = [name for name, kind in kinds.items() if kind != "drop"]
    keep += [column for _, column in ages.values()]
    keep += [name + SEALED_SUFFIX for name, kind in kinds.items() if kind == "pseudonymise"]
    keep.append(FINDINGS_COLUMN)
    date_fields = [f.name for f in table.fields if f.type == "date"]
    sample: list[pl.DataFrame] = []
    rows = 0
    bad: list[int] = []
    for raw in source.batches():
        if limit is not None and rows >= limit:
            break
        batch = raw.select(
            pl.col(col).alias(name) for col, name in spec_column_names(raw.columns, table).items()
        )
        if limit is not None:
            batch = batch.head(limit - rows)
        if sum(f.height for f in sample) < _DATE_SAMPLE_ROWS:
            sample.append(batch)
        out, invalid = stage1_frame(
            batch,
            kinds,
            key=key,
            registry=registry,
            ttp_public_key=ttp_public_key,
            age_at_event=ages,
            seal=seal,
        )
        numbers = pl.Series("record", range(rows + 1, rows + 1 + batch.height), dtype=pl.Int64)
        carried = (
            out.with_columns(numbers)
            .join(
                findings.rename({"findings": FINDINGS_COLUMN}),
                on="record",
                how="left",
                maintain_order="left",
            )
            .drop("record")
        )
        bad.extend((invalid.arg_true() + rows + 1).to_list())
        # Polars writes in many small pieces; a ZIP member takes one large write far faster.
        buffer = io.BytesIO()
        carried.select(c for c in keep if c in carried.columns).write_csv(
            buffer, separator=";", include_header=rows == 0
        )
        sink.write(buffer.getbuffer())
        rows += batch.height
    if rows == 0:
        header = [c for c in keep if c in spec_column_names(source.header, table).values()]
        sink.write((";".join([*header, FINDINGS_COLUMN]) + "\n").encode())
    head = pl.concat(sample, how="diagonal") if sample else pl.DataFrame()
    return _Written(rows, date_format_of(head, date_fields), bad)
