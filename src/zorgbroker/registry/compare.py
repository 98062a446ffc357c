"""Comparison with the data the registry holds: pure Polars over the upload and the held rows.

Given an upload's accepted records and the held rows that share a key with them (fetched by the
importer in a few set-wise queries), this module decides, without any I/O:

- each record's fate against the held version with the same identity: new, updated (other
  content) or unchanged (identical, which writes nothing and raises nothing);
- the TF and TW messages of the dataset's comparisons (kinds implemented once, for every dataset);
- what to write: which held rows to delete and which records to insert. A record replaces its
  held version together with its parts (an episode with its treatments); under `replace_group` a
  group (a practice's year) replaces the held group as a whole.

Comparisons only concern records that change something: a TF (which rejects) only records whose
identity the registry does not hold yet, a TW only records that are new or updated.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field

import polars as pl

from zorgbroker.intake.api import ROW, Stored, compile_condition
from zorgbroker.registry.layout import ID, PARENT_ID, Comparison, DatasetLayout, TableLayout

STATUS = "__status"
WRITE = "__write"
HELD_BEFORE = "__held_before"
HELD_IDS = "__held_ids"
PARTS = "__parts"
NEW, UPDATED, UNCHANGED = "new", "updated", "unchanged"

#: The messages this module makes, before the report adds class and text.
MESSAGE_COLUMNS = {
    "table": pl.String(),
    "record": pl.Int64(),
    "field": pl.String(),
    "code": pl.String(),
    "value": pl.String(),
}


def empty_messages() -> pl.DataFrame:
    return pl.DataFrame(schema=MESSAGE_COLUMNS)


@dataclass
class Held:
    """Held rows the importer fetched for one upload (full stored rows, `_id` included)."""

    #: Per table: the held rows sharing an identity (or, under replace_group, a group) with the
    #: upload's records.
    identity: dict[str, pl.DataFrame] = field(default_factory=dict)
    #: Per part table: the held parts of the held records in `identity`.
    parts: dict[str, pl.DataFrame] = field(default_factory=dict)
    #: Held main-table rows per lookup (columns), for the comparisons.
    lookups: dict[tuple[str, ...], pl.DataFrame] = field(default_factory=dict)


@dataclass(frozen=True)
class Lookup:
    """Held main-table rows whose `columns` equal one of the `keys` rows."""

    columns: tuple[str, ...]
    keys: pl.DataFrame


@dataclass
class TableWrite:
    delete_ids: pl.Series
    #: Rows to insert: `__row`, the layout's content columns, and for parts `__parent_row`.
    insert: pl.DataFrame


@dataclass
class Outcome:
    messages: pl.DataFrame
    #: Main-table records rejected by a TF message.
    rejected: pl.Series
    stored: Stored
    writes: dict[str, TableWrite]


# --- what to fetch -------------------------------------------------------------------------------


def identity_keys(layout: DatasetLayout, table: TableLayout, frame: pl.DataFrame) -> Lookup | None:
    """The keys to fetch held versions of a table's records by (None for parts)."""
    if table.part_of is not None:
        return None
    columns = table.lookup_identity
    if table.main and layout.update.changed == "replace_group":
        columns = layout.update.group
    keys = frame.select(columns).drop_nulls().unique()
    return Lookup(tuple(columns), keys)


def comparison_lookups(layout: DatasetLayout, main: pl.DataFrame) -> list[Lookup]:
    """Held main-table rows the comparisons need, one lookup per distinct column set."""
    wanted: dict[tuple[str, ...], list[tuple[pl.DataFrame, bool]]] = {}
    for c in layout.comparisons:
        for columns, keys, distinct in _lookups_of(c, layout.main, main):
            wanted.setdefault(columns, []).append((keys, distinct))
    lookups: list[Lookup] = []
    for columns, frames in wanted.items():
        if len(frames) == 1 and frames[0][1]:
            # Already distinct and without nulls (serial values): for a million of them a
            # second `unique` per lead column cost a noticeable part of the fetch.
            lookups.append(Lookup(columns, frames[0][0]))
            continue
        keys = pl.concat([f for f, _ in frames], how="vertical").drop_nulls().unique()
        lookups.append(Lookup(columns, keys))
    return lookups


def _lookups_of(
    c: Comparison, table: TableLayout, main: pl.DataFrame
) -> list[tuple[tuple[str, ...], pl.DataFrame, bool]]:
    """(columns, keys, whether the keys are already distinct and without nulls)."""
    match c.kind:
        case "serial_held_by_other":
            serials = c.texts("serials")
            values = _serial_values(main, serials).select("__serial")
            return [((s,), values.rename({"__serial": s}), True) for s in serials]
        case "same_subject_same_date_other_content":
            pair = (c.text("subject"), c.text("date"))
            return [(pair, main.select(pair), False)]
        case "requires_earlier":
            return [((c.text("subject"),), main.select(c.text("subject")), False)]
        case "replaces_upload":
            scope = tuple(c.texts("scope"))
            return [(scope, main.select(scope), False)]
    return []


def _serial_values(frame: pl.DataFrame, serials: list[str]) -> pl.DataFrame:
    parts = [
        frame.select(pl.col(s).alias("__serial")).drop_nulls()
        for s in serials
        if s in frame.columns
    ]
    return pl.concat(parts).unique() if parts else pl.DataFrame(schema={"__serial": pl.String})


# --- identity and content ------------------------------------------------------------------------


def _parts_signature(frame: pl.DataFrame, key: str, content: list[str]) -> pl.DataFrame:
    """One text per record summing up its parts as a multiset (order in the file is ignored)."""
    hashed = frame.select(pl.col(key), frame.select(content).hash_rows().alias("__h"))
    return hashed.group_by(key).agg(pl.col("__h").sort().cast(pl.String).str.join(",").alias(PARTS))


def with_parts_signature(
    layout: DatasetLayout,
    table: TableLayout,
    frame: pl.DataFrame,
    parts: dict[str, pl.DataFrame],
    *,
    held: bool,
) -> pl.DataFrame:
    """Add `__parts` to a table's rows (upload rows, or held rows when `held`)."""
    part_tables = layout.parts_of(table.table)
    if not part_tables:
        return frame
    signatures: list[pl.Expr] = []
    for part in part_tables:
        link = part.part_of
        assert link is not None
        rows = parts.get(part.table, pl.DataFrame(schema=part.schema))
        key = PARENT_ID if held else link.fk
        sig = _parts_signature(rows, key, part.content).rename({PARTS: f"{PARTS}{part.table}"})
        frame = frame.join(sig, left_on=ID if held else link.parent_key, right_on=key, how="left")
        signatures.append(pl.col(f"{PARTS}{part.table}").fill_null(""))
    return frame.with_columns(pl.concat_str(signatures, separator="|").alias(PARTS)).drop(
        [f"{PARTS}{p.table}" for p in part_tables]
    )


def classify(
    upload: pl.DataFrame, held: pl.DataFrame, identity: list[str], compared: list[str]
) -> pl.DataFrame:
    """Each upload row's status against the held version of its identity.

    A later row with the same identity in the same upload is a newer version of the earlier one.
    Adds `__held_before`, `__status`, `__write` (this row is the identity's final version and
    differs from what is held) and `__held_ids` (the held rows it replaces).
    """
    others = [c for c in compared if c not in identity]
    held_agg = held.group_by(identity, maintain_order=True).agg(
        pl.col(ID).alias(HELD_IDS),
        pl.len().alias("__held_n"),
        *[pl.col(c).first().alias(f"{c}__held") for c in others],
    )
    up = upload.sort(ROW).join(
        held_agg, on=identity, how="left", nulls_equal=True, maintain_order="left"
    )
    held_before = pl.col(HELD_IDS).is_not_null()
    same_as_held = held_before & (pl.col("__held_n") == 1)
    for c in others:
        same_as_held = same_as_held & pl.col(c).eq_missing(pl.col(f"{c}__held"))
    # Most identities occur once in an upload; the window work for versions within one file
    # is only done for the few that repeat.
    repeated = pl.len().over(identity) > 1
    up = up.with_columns(repeated.alias("__repeated"))
    single = up.filter(~pl.col("__repeated")).with_columns(
        pl.lit(True).alias("__first"), pl.lit(True).alias("__last"), pl.lit(True).alias("__prev")
    )
    many = up.filter(pl.col("__repeated"))
    if many.height:
        prev_same = pl.all_horizontal(
            [pl.col(c).eq_missing(pl.col(c).shift(1).over(identity)) for c in others]
            or [pl.lit(True)]
        )
        many = many.with_columns(
            (pl.int_range(pl.len()).over(identity) == 0).alias("__first"),
            (pl.int_range(pl.len()).over(identity) == pl.len().over(identity) - 1).alias("__last"),
            prev_same.alias("__prev"),
        )
        up = pl.concat([single, many]).sort(ROW)
    else:
        up = single
    first, last = pl.col("__first"), pl.col("__last")
    status = (
        pl.when(first & ~held_before)
        .then(pl.lit(NEW))
        .when(first & same_as_held)
        .then(pl.lit(UNCHANGED))
        .when(first)
        .then(pl.lit(UPDATED))
        .when(pl.col("__prev"))
        .then(pl.lit(UNCHANGED))
        .otherwise(pl.lit(UPDATED))
    )
    out = up.with_columns(
        held_before.alias(HELD_BEFORE),
        status.alias(STATUS),
        (last & ~same_as_held).alias(WRITE),
    ).drop("__repeated", "__first", "__last", "__prev")
    return out.drop(["__held_n", *[f"{c}__held" for c in others]])


def classify_groups(
    upload: pl.DataFrame,
    held: pl.DataFrame,
    identity: list[str],
    compared: list[str],
    group: list[str],
) -> pl.DataFrame:
    """Like `classify`, but a group whose records differ in any way from the held group is
    written whole (and the held group deleted whole)."""
    rows = classify(upload, held, identity, compared)
    changed_in_upload = rows.filter(pl.col(STATUS) != UNCHANGED).select(group)
    vanished = held.join(upload.select(identity), on=identity, how="anti", nulls_equal=True)
    changed = pl.concat([changed_in_upload, vanished.select(group)]).unique()
    in_changed = rows.join(
        changed.with_columns(pl.lit(True).alias("__changed")),
        on=group,
        how="left",
        nulls_equal=True,
        maintain_order="left",
    )
    held_ids = (
        held.join(changed, on=group, how="semi", nulls_equal=True)
        .group_by(group)
        .agg(pl.col(ID).alias("__group_ids"))
    )
    out = in_changed.join(held_ids, on=group, how="left", nulls_equal=True, maintain_order="left")
    first_of_group = pl.int_range(pl.len()).over(group) == 0
    return out.with_columns(
        pl.col("__changed").fill_null(False).alias(WRITE),
        # Every held row of a changed group goes, once (on the group's first row).
        pl.when(first_of_group).then(pl.col("__group_ids")).otherwise(None).alias(HELD_IDS),
    ).drop(["__changed", "__group_ids"])


# --- the comparisons -----------------------------------------------------------------------------


#: Compiles a condition of the rule language over the main table's columns.
Conditions = Callable[[str], pl.Expr]


def _context(table: TableLayout, today: dt.date, organisation: str | None) -> Conditions:
    columns = frozenset(table.columns)
    return lambda text: compile_condition(text, columns, today=today, organisation=organisation)


def _condition(c: Comparison, name: str, ctx: Conditions) -> pl.Expr:
    return ctx(c.text(name))


def _messages(
    rows: pl.DataFrame,
    code: str,
    field_name: str | pl.Expr | None,
    value: pl.Expr | None,
    table: str | None,
) -> pl.DataFrame:
    field_expr = pl.lit(field_name) if isinstance(field_name, str | None) else field_name
    return rows.select(
        pl.lit(table, dtype=pl.String).alias("table"),
        pl.col(ROW).cast(pl.Int64).alias("record"),
        field_expr.cast(pl.String).alias("field"),
        pl.lit(code, dtype=pl.String).alias("code"),
        (value if value is not None else pl.lit(None)).cast(pl.String).alias("value"),
    )


def _as_text(expr: pl.Expr, dtype: pl.DataType) -> pl.Expr:
    return expr.dt.to_string("%Y-%m-%d") if dtype == pl.Date else expr.cast(pl.String)


#: Orders an upload's records by date, then row (rows never reach this many).
_ROWS_PER_DAY = 1 << 32


def current_holders(events: pl.DataFrame, keep: list[str] | None = None) -> pl.DataFrame:
    """Per serial (`__serial`), the person (`__holder`) whose record naming it is the latest
    (`__date`, then `__order`), unless that record ends the registration (`__ending`)."""
    keep = keep or []
    latest = (
        events.sort("__date", "__order", nulls_last=False)
        .group_by("__serial")
        .agg(pl.col("__subject", "__ending", "__date", *keep).last())
    )
    return latest.filter(~pl.col("__ending")).select(
        "__serial", pl.col("__subject").alias("__holder"), "__date", *keep
    )


def serial_held_by_other(
    c: Comparison,
    table: TableLayout,
    candidates: pl.DataFrame,
    accepted: pl.DataFrame,
    held: Held,
    ctx: Conditions,
    table_key: str | None,
) -> pl.DataFrame:
    """A serial number named by a new record is still registered to another person.

    The current holder of a serial is the person of the latest held record naming it (by date,
    then by storage order), unless that record ends the registration (an explant). An ending
    record for the current holder in this same upload frees the serial for the upload's other
    records, so an explant and a re-implant can arrive together.

    The upload's own records count too: where an earlier record of the upload (by date, then by
    row) names the serial, its person holds it from then on, unless that record ends the
    registration. So one file cannot give one device to two people.
    """
    serials, subject, date = c.texts("serials"), c.text("subject"), c.text("date")
    ending = _condition(c, "ends_registration", ctx)
    events = []
    for s in serials:
        rows = held.lookups.get((s,), pl.DataFrame(schema=table.schema))
        events.append(
            rows.select(
                pl.col(s).alias("__serial"),
                pl.col(subject).alias("__subject"),
                pl.col(date).alias("__date"),
                pl.col(ID).alias("__order"),
                ending.alias("__ending"),
            ).drop_nulls("__serial")
        )
    current = current_holders(pl.concat(events)).select("__serial", "__holder")
    freed = (
        pl.concat(
            [
                accepted.filter(ending).select(
                    pl.col(s).alias("__serial"), pl.col(subject).alias("__by")
                )
                for s in serials
            ]
        )
        .drop_nulls("__serial")
        .join(current, on="__serial")
        .filter(pl.col("__by") == pl.col("__holder"))
        .select("__serial")
        .unique()
    )
    # Time order within the upload: date, then row.
    moment = pl.col(date).cast(pl.Int64) * _ROWS_PER_DAY + pl.col(ROW)
    earlier = (
        pl.concat(
            [
                accepted.select(
                    pl.col(s).alias("__serial"),
                    pl.col(subject).alias("__earlier_subject"),
                    ending.alias("__earlier_ending"),
                    moment.alias("__moment"),
                )
                for s in serials
            ]
        )
        .drop_nulls(["__serial", "__moment"])
        # Only a serial the upload names more than once can be taken by an earlier record.
        .filter(pl.col("__serial").is_duplicated())
        .sort("__moment")
    )
    shared = pl.col("__serial").is_in(earlier["__serial"].unique().implode())
    found = []
    for s in serials:
        rows = candidates.select(
            ROW,
            pl.col(s).alias("__serial"),
            pl.col(subject).alias("__subject"),
            ending.alias("__self_ending"),
            (moment - 1).alias("__moment"),  # strictly before the record itself
        ).drop_nulls("__serial")
        taken = (
            rows.filter(shared)
            .sort("__moment")
            .join_asof(
                earlier, on="__moment", by="__serial", strategy="backward", check_sortedness=False
            )
        )
        rows = (
            pl.concat([rows.filter(~shared), taken], how="diagonal_relaxed")
            .join(current, on="__serial", how="left")
            .join(freed.with_columns(pl.lit(True).alias("__freed")), on="__serial", how="left")
        )
        held_by_other = (pl.col("__holder") != pl.col("__subject")) & (
            pl.col("__self_ending") | pl.col("__freed").is_null()
        )
        taken_earlier = ~pl.col("__earlier_ending") & (
            pl.col("__earlier_subject") != pl.col("__subject")
        )
        conflict = (
            pl.when(pl.col("__earlier_subject").is_not_null())
            .then(taken_earlier)
            .otherwise(held_by_other)
            .fill_null(False)
        )
        found.append(
            _messages(rows.filter(conflict).sort(ROW), c.code, s, pl.col("__serial"), table_key)
        )
    return pl.concat(found)


def _differs(identity: list[str], suffix: str) -> pl.Expr:
    return pl.any_horizontal([pl.col(c).ne_missing(pl.col(f"{c}{suffix}")) for c in identity])


def same_subject_same_date(
    c: Comparison, table: TableLayout, candidates: pl.DataFrame, held: Held, table_key: str | None
) -> pl.DataFrame:
    """The person already has a held record on the same date with another identity."""
    subject, date = c.text("subject"), c.text("date")
    identity = list(table.identity)
    rows = held.lookups.get((subject, date), pl.DataFrame(schema=table.schema))
    other = rows.select(
        pl.col(subject).alias("__k_subject"),
        pl.col(date).alias("__k_date"),
        *[pl.col(x).alias(f"{x}__h") for x in identity],
    )
    joined = candidates.select(ROW, *_unique([subject, date, *identity])).join(
        other, left_on=[subject, date], right_on=["__k_subject", "__k_date"], how="inner"
    )
    hits = joined.filter(_differs(identity, "__h")).select(ROW).unique()
    flagged = candidates.join(hits, on=ROW, how="semi").sort(ROW)
    field_name = c.field or date
    value = _as_text(pl.col(field_name), table.columns[field_name])
    return _messages(flagged, c.code, field_name, value, table_key)


def _unique(names: list[str]) -> list[str]:
    return list(dict.fromkeys(names))


def requires_earlier(
    c: Comparison,
    table: TableLayout,
    candidates: pl.DataFrame,
    accepted: pl.DataFrame,
    held: Held,
    ctx: Conditions,
    table_key: str | None,
) -> pl.DataFrame:
    """A record of the `when` kind without an `earlier` record of the same person, held or in
    this upload, dated on or before it."""
    subject, date = c.text("subject"), c.text("date")
    identity = list(table.identity)
    cols = _unique([subject, date, *identity])
    when, earlier = _condition(c, "when", ctx), _condition(c, "earlier", ctx)
    asking = candidates.filter(when)
    held_rows = held.lookups.get((subject,), pl.DataFrame(schema=table.schema))
    pool = pl.concat(
        [held_rows.filter(earlier).select(cols), accepted.filter(earlier).select(cols)]
    )
    pool = pool.select([pl.col(x).alias(f"{x}__e") for x in cols])
    pairs = asking.select(ROW, *cols).join(
        pool, left_on=subject, right_on=f"{subject}__e", how="inner", coalesce=False
    )
    satisfied = (
        pairs.filter((pl.col(f"{date}__e") <= pl.col(date)) & _differs(identity, "__e"))
        .select(ROW)
        .unique()
    )
    flagged = asking.join(satisfied, on=ROW, how="anti").sort(ROW)
    field_name = c.field or date
    value = _as_text(pl.col(field_name), table.columns[field_name])
    return _messages(flagged, c.code, field_name, value, table_key)


def identity_with_other_subject(
    c: Comparison, table: TableLayout, classified: pl.DataFrame, held: Held, table_key: str | None
) -> pl.DataFrame:
    """A resent record whose held version belongs to another person."""
    subject = c.text("subject")
    identity = list(table.identity)
    rows = held.identity.get(table.table, pl.DataFrame(schema=table.schema))
    previous = rows.select(*identity, pl.col(subject).alias("__subject_h"))
    joined = classified.filter(pl.col(STATUS) != UNCHANGED).join(
        previous, on=identity, how="inner", nulls_equal=True
    )
    flagged = joined.filter(pl.col(subject).ne_missing(pl.col("__subject_h")))
    flagged = flagged.unique(subset=ROW).sort(ROW)
    value = _as_text(pl.col(c.field), table.columns[c.field]) if c.field else None
    return _messages(flagged, c.code, c.field, value, table_key)


def replaces_upload(
    c: Comparison, table: TableLayout, classified: pl.DataFrame, held: Held, table_key: str | None
) -> pl.DataFrame:
    """Records of a group (a practice's year) that replace a held, different group."""
    scope = c.texts("scope")
    rows = held.lookups.get(tuple(scope), pl.DataFrame(schema=table.schema))
    held_groups = rows.select(scope).unique()
    changed = classified.filter(pl.col(WRITE)).select(scope).unique()
    replaced = held_groups.join(changed, on=scope, how="semi", nulls_equal=True)
    flagged = classified.join(replaced, on=scope, how="semi", nulls_equal=True).sort(ROW)
    return _messages(flagged, c.code, c.field, None, table_key)


# --- putting it together -------------------------------------------------------------------------


def _classify_table(
    layout: DatasetLayout, table: TableLayout, upload: dict[str, pl.DataFrame], held: Held
) -> pl.DataFrame:
    frame = with_parts_signature(layout, table, upload[table.table], upload, held=False)
    held_rows = held.identity.get(table.table, pl.DataFrame(schema=table.schema))
    held_rows = with_parts_signature(layout, table, held_rows, held.parts, held=True)
    compared = table.content + ([PARTS] if PARTS in frame.columns else [])
    if table.main and layout.update.changed == "replace_group":
        return classify_groups(
            frame, held_rows, list(table.identity), compared, list(layout.update.group)
        )
    return classify(frame, held_rows, list(table.identity), compared)


def _parts_writes(
    layout: DatasetLayout,
    parent: TableLayout,
    classified: pl.DataFrame,
    upload: dict[str, pl.DataFrame],
    held: Held,
    deleted_parents: pl.Series,
) -> dict[str, TableWrite]:
    writes: dict[str, TableWrite] = {}
    written = classified.filter(pl.col(WRITE))
    for part in layout.parts_of(parent.table):
        link = part.part_of
        assert link is not None
        held_parts = held.parts.get(part.table, pl.DataFrame(schema=part.schema))
        delete = held_parts.filter(pl.col(PARENT_ID).is_in(deleted_parents.implode()))[ID]
        parents = written.select(
            pl.col(link.parent_key).alias("__key"), pl.col(ROW).alias("__parent_row")
        )
        parents = parents.unique(subset="__key", keep="last")
        rows = upload[part.table].join(parents, left_on=link.fk, right_on="__key", how="inner")
        writes[part.table] = TableWrite(delete, rows.select(ROW, *part.content, "__parent_row"))
    return writes


def compare(
    layout: DatasetLayout,
    upload: dict[str, pl.DataFrame],
    held: Held,
    *,
    today: dt.date,
    organisation: str | None,
) -> Outcome:
    """Everything the import decides for one production upload (see the module docstring)."""
    main = layout.main
    table_key = main.table if layout.spec.multi_table else None
    ctx = _context(main, today, organisation)
    main_rows = upload[main.table]

    # TF first, on records whose identity the registry does not hold yet; they are rejected.
    pre = _classify_table(layout, main, upload, held)
    unknown = pre.filter(~pl.col(HELD_BEFORE))
    tf = [
        serial_held_by_other(c, main, unknown, main_rows, held, ctx, table_key)
        for c in layout.comparisons
        if c.code.startswith("TF-") and c.kind == "serial_held_by_other"
    ]
    tf_messages = pl.concat(tf) if tf else empty_messages()
    rejected = tf_messages["record"].unique().sort()

    kept = {**upload}
    if rejected.len():
        kept[main.table] = main_rows.filter(~pl.col(ROW).is_in(rejected.implode()))
        for part in layout.parts_of(main.table):
            link = part.part_of
            assert link is not None
            keys = kept[main.table][link.parent_key].unique()
            kept[part.table] = upload[part.table].filter(pl.col(link.fk).is_in(keys.implode()))
    classified = _classify_table(layout, main, kept, held) if rejected.len() else pre

    tw: list[pl.DataFrame] = []
    changing = classified.filter(pl.col(STATUS) != UNCHANGED)
    for c in layout.comparisons:
        if c.code.startswith("TF-"):
            continue
        match c.kind:
            case "serial_held_by_other":
                tw.append(
                    serial_held_by_other(c, main, changing, kept[main.table], held, ctx, table_key)
                )
            case "same_subject_same_date_other_content":
                tw.append(same_subject_same_date(c, main, changing, held, table_key))
            case "requires_earlier":
                tw.append(
                    requires_earlier(c, main, changing, kept[main.table], held, ctx, table_key)
                )
            case "identity_with_other_subject":
                tw.append(identity_with_other_subject(c, main, classified, held, table_key))
            case "replaces_upload":
                tw.append(replaces_upload(c, main, classified, held, table_key))
    messages = pl.concat([tf_messages, *tw]) if tw else tf_messages

    counts = classified.group_by(STATUS).len()
    by_status = dict(zip(counts[STATUS].to_list(), counts["len"].to_list(), strict=True))
    stored = Stored(by_status.get(NEW, 0), by_status.get(UPDATED, 0), by_status.get(UNCHANGED, 0))

    deleted_ids = _deleted(classified)
    writes = {
        main.table: TableWrite(
            deleted_ids, classified.filter(pl.col(WRITE)).select(ROW, *main.content)
        )
    }
    writes.update(_parts_writes(layout, main, classified, kept, held, deleted_ids))
    for table in layout.tables.values():
        if table.main or table.part_of is not None:
            continue
        rows = _classify_table(layout, table, kept, held)
        writes[table.table] = TableWrite(
            _deleted(rows), rows.filter(pl.col(WRITE)).select(ROW, *table.content)
        )
    return Outcome(messages, rejected, stored, writes)


def _deleted(classified: pl.DataFrame) -> pl.Series:
    """Held ids replaced by written rows (under replace_group: the written groups' held rows)."""
    ids = classified.filter(pl.col(WRITE)).select(pl.col(HELD_IDS).explode()).to_series()
    return ids.drop_nulls().unique().cast(pl.Int64).alias(ID)
