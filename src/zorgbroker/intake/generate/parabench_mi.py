"""Synthetic `parabench-mi` files: one practice-year of management figures, one row per quarter.

`rows` is the number of quarters (1-4, more is capped at 4). A clean file covers last year, so
every quarter is complete; its counts keep every part-of-whole rule, the age bands add up, there
are 900-1,500 treatments per fte (below the W-201 limit of 2,000) and 36-48 euros per treatment
(inside the W-202 range of 15-150).

Faults, one per faulted quarter: F-202 (a part above its whole, or age bands that do not add up),
W-201 (fte rounded down to behandelingen / 2,200), W-202 (163-220 euros per treatment), F-001
(regio empty), F-002 (no_shows `twaalf`), F-003 (regio `XX`), F-004 (negative no_shows), F-201.

F-201 (an incomplete quarter of the current year) can only exist in a file about the current
year, and `jaar` must be the same on every row; so when that fault is drawn for a quarter, the
whole file moves to the current year and every quarter that is not complete yet gets F-201 (and
no other fault).
"""

from __future__ import annotations

import datetime
from pathlib import Path

import numpy as np
import polars as pl

from zorgbroker.intake.generate.columns import CsvSink
from zorgbroker.intake.generate.faults import RowFault, choose_faults, eligibility, inject
from zorgbroker.intake.generate.model import Generated, expected_from_frames

DATASET = "parabench-mi"
DEFAULT_ORGANISATION = "04012345"
_SALT = 201
MAX_QUARTERS = 4

COLUMNS: tuple[str, ...] = (
    "praktijk_agb",
    "jaar",
    "kwartaal",
    "jaar_afgesloten",
    "regio",
    "netwerk",
    "fte_therapeuten",
    "patienten",
    "nieuwe_patienten",
    "patienten_man",
    "patienten_0_17",
    "patienten_18_64",
    "patienten_65_plus",
    "episodes_gestart",
    "episodes_gestart_dtf",
    "episodes_afgesloten",
    "episodes_afgesloten_chronisch",
    "behandelingen",
    "behandelingen_afgesloten_episodes",
    "behandelingen_afgesloten_chronisch",
    "no_shows",
    "omzet_eur",
    "omzet_contract_eur",
    "episodes_met_uitkomstmeting",
)
REGIONS = ("GR", "FR", "DR", "OV", "FL", "GE", "UT", "NH", "ZH", "ZE", "NB", "LI")
NETWORKS = ("FysioNet Midden", "ZorgKring Oost", "Paramedisch Netwerk West", "EersteLijn Plus")
_INTEGER_COLUMNS = tuple(c for c in COLUMNS[7:] if not c.startswith("omzet"))


def current_quarter(today: datetime.date) -> int:
    """The quarter `today` lies in; it is not complete yet."""
    return (today.month - 1) // 3 + 1


def _figures(rng: np.random.Generator, quarters: int) -> pl.DataFrame:
    """Clean counts per quarter, as numbers."""
    q = quarters
    fte = np.round(rng.uniform(2.0, 12.0) * rng.uniform(0.95, 1.05, size=q), 1)
    treatments = np.round(fte * rng.uniform(900, 1500, size=q)).astype(np.int64)
    patients = np.round(treatments / rng.uniform(6.0, 9.0, size=q)).astype(np.int64)
    new = np.round(patients * rng.uniform(0.30, 0.45, size=q)).astype(np.int64)
    men = np.round(patients * rng.uniform(0.38, 0.46, size=q)).astype(np.int64)
    young = np.round(patients * rng.uniform(0.05, 0.12, size=q)).astype(np.int64)
    old = np.round(patients * rng.uniform(0.25, 0.35, size=q)).astype(np.int64)
    started = np.round(patients * rng.uniform(0.40, 0.50, size=q)).astype(np.int64)
    direct = np.round(started * rng.uniform(0.30, 0.55, size=q)).astype(np.int64)
    closed = np.round(started * rng.uniform(0.85, 1.05, size=q)).astype(np.int64)
    chronic = np.round(closed * rng.uniform(0.08, 0.18, size=q)).astype(np.int64)
    closed_sessions = np.minimum(
        np.round(closed * rng.uniform(7.0, 10.0, size=q)).astype(np.int64), treatments
    )
    chronic_sessions = np.minimum(
        np.round(chronic * rng.uniform(15.0, 25.0, size=q)).astype(np.int64), closed_sessions
    )
    revenue = np.round(treatments * rng.uniform(36.0, 48.0, size=q), 2)
    contract = np.round(revenue * rng.uniform(0.85, 0.98, size=q), 2)
    return pl.DataFrame(
        {
            "kwartaal": np.arange(1, q + 1, dtype=np.int64),
            "fte_therapeuten": fte,
            "patienten": patients,
            "nieuwe_patienten": new,
            "patienten_man": men,
            "patienten_0_17": young,
            "patienten_18_64": patients - young - old,
            "patienten_65_plus": old,
            "episodes_gestart": started,
            "episodes_gestart_dtf": direct,
            "episodes_afgesloten": closed,
            "episodes_afgesloten_chronisch": chronic,
            "behandelingen": treatments,
            "behandelingen_afgesloten_episodes": closed_sessions,
            "behandelingen_afgesloten_chronisch": chronic_sessions,
            "no_shows": np.round(treatments * rng.uniform(0.02, 0.05, size=q)).astype(np.int64),
            "omzet_eur": revenue,
            "omzet_contract_eur": contract,
            "episodes_met_uitkomstmeting": np.round(
                closed * rng.uniform(0.50, 0.85, size=q)
            ).astype(np.int64),
            "_u": rng.random(q),
        }
    )


def _as_text(frame: pl.DataFrame) -> pl.DataFrame:
    """The file's text form: integers as digits, fte with one decimal, euros with two."""

    def euros(column: str) -> pl.Expr:
        cents = (pl.col(column) * 100).round(0).cast(pl.Int64)
        return pl.format("{}.{}", cents // 100, (cents % 100).cast(pl.String).str.zfill(2))

    return frame.with_columns(
        pl.col(*_INTEGER_COLUMNS, "kwartaal").cast(pl.String),
        pl.col("fte_therapeuten").round(1).cast(pl.String),
        euros("omzet_eur").alias("omzet_eur"),
        euros("omzet_contract_eur").alias("omzet_contract_eur"),
    )


def _numeric_faults(incomplete_from: int) -> list[RowFault]:
    """Faults applied while the counts are numbers; the text faults follow in `_text_faults`."""
    extra = 1 + (pl.col("_u") * 20).cast(pl.Int64)  # 1..20

    def part_above_whole(part: str, whole: str) -> RowFault:
        return RowFault(
            f"{part}_above_{whole}", "F-202", part, pl.lit(True), {part: pl.col(whole) + extra}
        )

    return [
        # Its change (moving the file to the current year) is made for the whole file.
        RowFault(
            "quarter_not_complete", "F-201", "kwartaal", pl.col("kwartaal") >= incomplete_from
        ),
        part_above_whole("nieuwe_patienten", "patienten"),
        part_above_whole("patienten_man", "patienten"),
        part_above_whole("episodes_gestart_dtf", "episodes_gestart"),
        part_above_whole("episodes_afgesloten_chronisch", "episodes_afgesloten"),
        part_above_whole("episodes_met_uitkomstmeting", "episodes_afgesloten"),
        part_above_whole("behandelingen_afgesloten_chronisch", "behandelingen_afgesloten_episodes"),
        RowFault(
            "age_bands_do_not_add_up",
            "F-202",
            "patienten_65_plus",
            pl.lit(True),
            {"patienten_65_plus": pl.col("patienten_65_plus") + extra},
        ),
        RowFault(
            "contract_revenue_above_revenue",
            "F-202",
            "omzet_contract_eur",
            pl.lit(True),
            {"omzet_contract_eur": pl.col("omzet_eur") + 100.0 * extra},
        ),
        RowFault(
            "treatments_per_fte_too_high",
            "W-201",
            "behandelingen",
            pl.lit(True),
            # Rounded down, so the ratio stays above 2,200 with the one decimal the file shows.
            {"fte_therapeuten": (pl.col("behandelingen") / 2200 * 10).floor() / 10},
        ),
        RowFault(
            "revenue_per_treatment_too_high",
            "W-202",
            "omzet_eur",
            pl.lit(True),
            {"omzet_eur": (pl.col("behandelingen") * (160.0 + 3.0 * extra)).round(2)},
        ),
        RowFault("regio_missing", "F-001", "regio", pl.lit(True)),
        RowFault("no_shows_not_an_integer", "F-002", "no_shows", pl.lit(True)),
        RowFault("regio_unknown_code", "F-003", "regio", pl.lit(True)),
        RowFault("no_shows_negative", "F-004", "no_shows", pl.lit(True)),
    ]


def _text_faults(numeric: list[RowFault]) -> list[RowFault]:
    """The same catalogue, with the changes that need the text form."""
    text_changes: dict[str, dict[str, pl.Expr]] = {
        "regio_missing": {"regio": pl.lit(None, dtype=pl.String)},
        "no_shows_not_an_integer": {"no_shows": pl.lit("twaalf")},
        "regio_unknown_code": {"regio": pl.lit("XX")},
        "no_shows_negative": {"no_shows": pl.concat_str([pl.lit("-"), pl.col("no_shows")])},
    }
    return [
        RowFault(f.name, f.code, f.field, f.eligible, text_changes.get(f.name, {})) for f in numeric
    ]


def generate_parabench_mi(
    *,
    rows: int,
    out: Path,
    error_rate: float,
    seed: int,
    organisation: str | None,
    today: datetime.date,
) -> Generated:
    practice = organisation or DEFAULT_ORGANISATION
    quarters = min(rows, MAX_QUARTERS)
    rng = np.random.default_rng([seed, _SALT, 0])
    figures = _figures(rng, quarters)
    incomplete_from = current_quarter(today)
    numeric = _numeric_faults(incomplete_from)
    choice = choose_faults(rng, eligibility(figures, numeric), error_rate)
    this_year = bool((choice == 0).any())
    if this_year:
        choice[figures["kwartaal"].to_numpy() >= incomplete_from] = 0
    figures, expected = inject(figures, numeric, choice, table=None, record_offset=0)
    text = _as_text(figures)
    closed_books = "N" if this_year else ("J" if rng.random() < 0.7 else "N")
    network = NETWORKS[int(rng.integers(0, len(NETWORKS)))] if rng.random() < 0.6 else None
    text = text.with_columns(
        pl.lit(practice).alias("praktijk_agb"),
        pl.lit(str(today.year if this_year else today.year - 1)).alias("jaar"),
        pl.lit(closed_books).alias("jaar_afgesloten"),
        pl.lit(REGIONS[int(rng.integers(0, len(REGIONS)))]).alias("regio"),
        pl.lit(network, dtype=pl.String).alias("netwerk"),
    )
    text, _ = inject(text, _text_faults(numeric), choice, table=None, record_offset=0)
    with CsvSink(out, COLUMNS) as sink:
        sink.write(text)
    return Generated(
        path=out,
        rows=quarters,
        organisation=practice,
        expected=expected_from_frames([expected] if expected.height else [], ()),
    )
