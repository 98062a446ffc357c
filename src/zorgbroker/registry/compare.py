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
from dataclasses import dataclass

import polars as pl

from zorgbroker.intake.api import ROW, Stored, compile_condition
from zorgbroker.registry.columns import ID, PARENT_ID
from zorgbroker.registry.comparisons import Conditions, Held, Lookup, Scope, kind_of
from zorgbroker.registry.comparisons.base import (
    NEW,
    STATUS,
    UNCHANGED,
    UPDATED,
    WRITE,
    empty_messages,
)
from zorgbroker.registry.layout import DatasetLayout, TableLayout

HELD_BEFORE = "__held_before"
HELD_IDS = "__held_ids"
PARTS = "__parts"


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
        for w in kind_of(c).lookups(c, main):
            wanted.setdefault(w.columns, []).append((w.keys, w.distinct))
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


# --- the comparisons (one module per kind: `comparisons`) --------------------------------------


def _conditions(table: TableLayout, today: dt.date, organisation: str | None) -> Conditions:
    columns = frozenset(table.columns)
    return lambda text: compile_condition(text, columns, today=today, organisation=organisation)


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
    conditions = _conditions(main, today, organisation)
    main_rows = upload[main.table]

    # TF first, on records whose identity the registry does not hold yet; they are rejected.
    pre = _classify_table(layout, main, upload, held)
    unknown = pre.filter(~pl.col(HELD_BEFORE))
    before = Scope(main, unknown, main_rows, pre, held, conditions, table_key)
    tf = [
        kind_of(c).check(c, before)
        for c in layout.comparisons
        if c.rejecting and kind_of(c).can_reject
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

    changing = classified.filter(pl.col(STATUS) != UNCHANGED)
    after = Scope(main, changing, kept[main.table], classified, held, conditions, table_key)
    tw = [kind_of(c).check(c, after) for c in layout.comparisons if not c.rejecting]
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
