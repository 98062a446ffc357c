"""Synthetic `nivel-fysio` archives: one ZIP holding the five tables of a practice extraction.

`rows` is the number of episodes (the dataset's main table). Each episode has 3-15 treatments and
measurements on distinct days (so no two rows are identical), the first of them a measurement;
patients have one to a few episodes; the therapist pool grows with the practice.

Clean data keep every rule: consent everywhere, 11-digit BIG numbers, 8-digit AGB codes (no
`1111`), screening outcomes on every direct-access episode, open episodes younger than 330 days,
treatments inside their episode and inside the two-month extraction period.

Faults, one per faulted episode: episodes F-101 (unknown patient or therapist), F-104 (no
measurement), W-102 (no screening outcome), W-103 (open for 400-699 days), F-001 / F-002 (dcsph
empty / not digits), F-003 (chronisch `X`); in a treatment row F-101 (unknown episode or
therapist), F-105 (score above the instrument's range), F-106 (dated before the episode); in the
episode's patient F-102 (no consent) or F-107 (broken BSN); in its main therapist F-102 (no
consent), F-103 (10-digit BIG number) or W-101 (`1111`). `message_fields` says which field each
message names.

Faults sit in four tables. A fault that rejects a patient or a therapist would reject every episode
that depends on it (F-101, field `patient_id` / `therapeut_id`), so such faults get a patient of
their own (one episode) or a therapist of their own (main therapist of that one episode only, who
gives none of the treatments), and the expected list carries the cascaded F-101 as well. Faults in
treatment rows only touch a session row, or a measurement when the episode has another, so the
episode raises no message of its own (it is still rejected along with its rejected treatment).
"""

from __future__ import annotations

import datetime
import tempfile
import zipfile
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import polars as pl

from zorgbroker.intake.generate.columns import (
    BoolArray,
    CsvSink,
    IntArray,
    chunk_rng,
    chunks,
    dates,
    day_number,
    keep,
    labels,
)
from zorgbroker.intake.generate.faults import choose_faults
from zorgbroker.intake.generate.model import EXPECTED_SCHEMA, Generated, expected_from_frames
from zorgbroker.intake.generate.names import PRACTICE_NAMES, SOFTWARE, surnames
from zorgbroker.intake.generate.numbers import (
    BSN_CAPACITY,
    Permutation,
    bsn_from_index,
    bump_last_digit,
    digits,
)

DATASET = "nivel-fysio"
DEFAULT_ORGANISATION = "04012345"
_SALT = 101
_EPISODES_PER_CHUNK = 100_000

TABLES: dict[str, tuple[str, ...]] = {
    "praktijk": (
        "praktijk_agb",
        "praktijk_naam",
        "postcode4",
        "extractie_datum",
        "periode_van",
        "periode_tot",
        "software",
    ),
    "therapeuten": (
        "therapeut_id",
        "achternaam",
        "geboortedatum",
        "geslacht",
        "zvl_soort",
        "zvl_nummer",
        "big_nummer",
        "deelname",
    ),
    "patienten": (
        "patient_id",
        "bsn",
        "geboortedatum",
        "geslacht",
        "postcode4",
        "verzekeraar_uzovi",
        "toestemming",
    ),
    "episodes": (
        "episode_id",
        "patient_id",
        "therapeut_id",
        "startdatum",
        "einddatum",
        "verwijzing",
        "dcsph",
        "chronisch",
        "screening_uitkomst",
    ),
    "verrichtingen": (
        "episode_id",
        "datum",
        "soort",
        "therapeut_id",
        "prestatiecode",
        "instrument",
        "score",
    ),
}
TABLE_ORDER = tuple(TABLES)
CONSENT = "toestemming"
#: zvl_nummer of a therapist without an AGB code yet.
NO_AGB = "1111"

SEXES = ("M", "V", "X", "O")
_PATIENT_SEX_P = (0.415, 0.58, 0.003, 0.002)
_THERAPIST_SEX_P = (0.45, 0.545, 0.003, 0.002)
PROVIDER_KINDS = ("01", "02", "03")
_PROVIDER_KIND_P = (0.85, 0.12, 0.03)
REFERRALS = ("DTF", "HA", "SP", "BV")
_REFERRAL_P = (0.45, 0.40, 0.12, 0.03)
SCREENING = ("pluis", "niet-pluis")
_SCREENING_P = (0.93, 0.07)
#: Body region (first two digits) times pathology (last two).
DCSPH = tuple(
    region + pathology
    for region in ("12", "13", "15", "16", "17", "18", "19", "25", "26", "27", "28", "29")
    for pathology in ("20", "21", "29", "39", "49", "90")
)
INSTRUMENTS = ("PSK", "NPRS", "QBPDS", "NDI", "GPE", "998")
_INSTRUMENT_P = (0.25, 0.30, 0.15, 0.10, 0.05, 0.15)
_NO_INSTRUMENT = INSTRUMENTS.index("998")
#: Score range per instrument (998 has none).
_SCORE_LOW = np.asarray([0, 0, 0, 0, 1, 0], dtype=np.int64)
_SCORE_HIGH = np.asarray([10, 10, 100, 50, 7, 0], dtype=np.int64)
PRESTATIECODES = ("1000", "1004", "1200", "1864", "1870")
UZOVI = ("3311", "3313", "3343", "3351", "3353", "3358", "7029", "7037", "7095", "0101", "0203")
_REFUSALS = ("bezwaar", "niet gevraagd")

#: Length of the extraction period (periode_van .. periode_tot), days.
_PERIOD_DAYS = 59
#: Every episode's treatment window is at least this long, so 15 rows fit on distinct days.
_MIN_WINDOW = 15
_MAX_OPEN_AGE = 330


@dataclass(frozen=True)
class _Kind:
    name: str
    code: str
    table: str
    field: str


_KINDS = (
    _Kind("episode_unknown_patient", "F-101", "episodes", "patient_id"),
    _Kind("episode_unknown_therapist", "F-101", "episodes", "therapeut_id"),
    _Kind("episode_without_measurement", "F-104", "episodes", "episode_id"),
    _Kind("direct_access_without_screening", "W-102", "episodes", "screening_uitkomst"),
    _Kind("open_longer_than_a_year", "W-103", "episodes", "einddatum"),
    _Kind("dcsph_missing", "F-001", "episodes", "dcsph"),
    _Kind("dcsph_not_digits", "F-002", "episodes", "dcsph"),
    _Kind("chronisch_unknown_code", "F-003", "episodes", "chronisch"),
    _Kind("treatment_unknown_episode", "F-101", "verrichtingen", "episode_id"),
    _Kind("treatment_unknown_therapist", "F-101", "verrichtingen", "therapeut_id"),
    _Kind("score_out_of_range", "F-105", "verrichtingen", "score"),
    _Kind("treatment_outside_episode", "F-106", "verrichtingen", "datum"),
    _Kind("patient_without_consent", "F-102", "patienten", "toestemming"),
    _Kind("patient_bsn_elfproef", "F-107", "patienten", "bsn"),
    _Kind("therapist_without_consent", "F-102", "therapeuten", "deelname"),
    _Kind("therapist_big_length", "F-103", "therapeuten", "big_nummer"),
    _Kind("therapist_without_agb", "W-101", "therapeuten", "zvl_nummer"),
)
_K = {kind.name: i for i, kind in enumerate(_KINDS)}
_EPISODE_KINDS = tuple(kind.name for kind in _KINDS if kind.table == "episodes")
_PATIENT_KINDS = ("patient_without_consent", "patient_bsn_elfproef")
_THERAPIST_KINDS = ("therapist_without_consent", "therapist_big_length", "therapist_without_agb")
#: Kinds that reject a patient or therapist, with the episode field their cascade F-101 names.
_CASCADES = {
    "patient_without_consent": "patient_id",
    "patient_bsn_elfproef": "patient_id",
    "therapist_without_consent": "therapeut_id",
    "therapist_big_length": "therapeut_id",
}


@dataclass(frozen=True)
class _Context:
    organisation: str
    today: int
    period_start: int
    therapists: int
    width: int
    bsn: Permutation
    postcode: int

    @property
    def therapist_width(self) -> int:
        return max(4, self.width)


def _context(seed: int, organisation: str, today: datetime.date, rows: int) -> _Context:
    rng = np.random.default_rng([seed, _SALT, 1_000_000])
    return _Context(
        organisation=organisation,
        today=day_number(today),
        period_start=day_number(today) - _PERIOD_DAYS,
        therapists=max(2, -(-rows // 150)),
        width=max(7, len(str(rows))),
        bsn=Permutation.draw(rng, BSN_CAPACITY),
        postcode=int(rng.integers(1100, 9900)),
    )


def _ids(prefix: str, numbers: IntArray, width: int) -> pl.Series:
    return pl.select(pl.concat_str([pl.lit(prefix), digits(numbers, width)])).to_series()


def _praktijk(ctx: _Context, rng: np.random.Generator) -> pl.DataFrame:
    return pl.DataFrame(
        {
            "praktijk_agb": [ctx.organisation],
            "praktijk_naam": [PRACTICE_NAMES[int(rng.integers(0, len(PRACTICE_NAMES)))]],
            "postcode4": [str(ctx.postcode)],
            "extractie_datum": dates(np.asarray([ctx.today])),
            "periode_van": dates(np.asarray([ctx.period_start])),
            "periode_tot": dates(np.asarray([ctx.today])),
            "software": [SOFTWARE[int(rng.integers(0, len(SOFTWARE)))]],
        }
    )


def _therapists(ctx: _Context, rng: np.random.Generator, first: int, n: int) -> pl.DataFrame:
    """Therapists numbered first+1 .. first+n, all clean."""
    kind = rng.choice(len(PROVIDER_KINDS), size=n, p=_PROVIDER_KIND_P)
    age = rng.integers(23, 67, size=n)
    birth = ctx.today - np.floor(age * 365.2425 + rng.random(n) * 360).astype(np.int64)
    agb_prefix = np.where(kind == 0, 4_000_000, 24_000_000)
    return pl.DataFrame(
        [
            _ids("T", np.arange(first + 1, first + n + 1), ctx.therapist_width).alias(
                "therapeut_id"
            ),
            surnames(rng, n).alias("achternaam"),
            dates(birth).alias("geboortedatum"),
            labels(SEXES, rng.choice(len(SEXES), size=n, p=_THERAPIST_SEX_P)).alias("geslacht"),
            labels(PROVIDER_KINDS, kind).alias("zvl_soort"),
            digits(agb_prefix + rng.integers(0, 1_000_000, size=n), 8).alias("zvl_nummer"),
            digits(rng.integers(10**10, 10**11, size=n), 11).alias("big_nummer"),
            pl.Series("deelname", [CONSENT] * n, dtype=pl.String),
        ]
    )


def _patients(ctx: _Context, rng: np.random.Generator, first: int, n: int) -> pl.DataFrame:
    """Patients numbered first+1 .. first+n (first = patients in earlier chunks), all clean."""
    child = rng.random(n) < 0.07
    age = np.where(
        child,
        rng.integers(5, 18, size=n),
        np.clip(rng.normal(52, 17, size=n), 18, 95).astype(np.int64),
    )
    birth = ctx.today - np.floor(age * 365.2425 + rng.random(n) * 360).astype(np.int64)
    postcode = np.clip(ctx.postcode + rng.integers(-60, 61, size=n), 1000, 9999)
    index = np.arange(first, first + n, dtype=np.int64)
    return pl.DataFrame(
        [
            _ids("P", index + 1, ctx.width).alias("patient_id"),
            digits(bsn_from_index(index, ctx.bsn), 9).alias("bsn"),
            dates(birth).alias("geboortedatum"),
            labels(SEXES, rng.choice(len(SEXES), size=n, p=_PATIENT_SEX_P)).alias("geslacht"),
            keep(digits(postcode, 4), rng.random(n) < 0.9).alias("postcode4"),
            labels(UZOVI, rng.integers(0, len(UZOVI), size=n), rng.random(n) < 0.98).alias(
                "verzekeraar_uzovi"
            ),
            pl.Series("toestemming", [CONSENT] * n, dtype=pl.String),
        ]
    )


@dataclass
class _Treatments:
    """Treatment and measurement rows of one chunk's episodes, grouped by episode, by date."""

    episode: IntArray  # local episode index per row
    day: IntArray
    measurement: BoolArray
    therapist: IntArray  # 0-based base-therapist number
    code: IntArray  # prestatiecode index
    score: IntArray


def _treatments(
    rng: np.random.Generator,
    window_start: IntArray,
    window_length: IntArray,
    instrument: IntArray,
    main_therapist: IntArray,
    therapists: int,
) -> _Treatments:
    n = window_start.size
    count = rng.integers(3, 16, size=n)
    episode = np.repeat(np.arange(n, dtype=np.int64), count)
    first_row = np.cumsum(count) - count
    position = np.arange(episode.size, dtype=np.int64) - np.repeat(first_row, count)
    # Distinct days: position j plus a non-decreasing share of the window's slack.
    slack = np.repeat(window_length - count, count)
    gap = np.floor(rng.random(episode.size) * (slack + 1)).astype(np.int64)
    gap = gap[np.lexsort((gap, episode))]
    day = np.repeat(window_start, count) + position + gap

    last = position == np.repeat(count - 1, count)
    measurement = (
        (position == 0)
        | (rng.random(episode.size) < 0.12)
        | (last & (rng.random(episode.size) < 0.5))
    )
    row_instrument = instrument[episode]
    low, high = _SCORE_LOW[row_instrument], _SCORE_HIGH[row_instrument]
    score = low + np.floor(rng.random(episode.size) * (high - low + 1)).astype(np.int64)
    other = rng.integers(0, therapists, size=episode.size)
    therapist = np.where(rng.random(episode.size) < 0.85, main_therapist[episode], other)
    code = rng.integers(0, len(PRESTATIECODES), size=episode.size)
    return _Treatments(episode, day, measurement, therapist, code, score)


def _first_row_per_episode(episode: IntArray, rows: BoolArray, n: int) -> IntArray:
    """Per episode the first row (in file order) where `rows` holds, or -1."""
    result = np.full(n, -1, dtype=np.int64)
    candidates = np.flatnonzero(rows)
    keys, first = np.unique(episode[candidates], return_index=True)
    result[keys] = candidates[first]
    return result


def _last_row_per_episode(episode: IntArray, rows: BoolArray, n: int) -> IntArray:
    result = np.full(n, -1, dtype=np.int64)
    candidates = np.flatnonzero(rows)[::-1]
    keys, first = np.unique(episode[candidates], return_index=True)
    result[keys] = candidates[first]
    return result


def _expected(table: str, records: IntArray, field: str | pl.Series, code: str) -> pl.DataFrame:
    n = records.size
    fields = field if isinstance(field, pl.Series) else pl.Series([field] * n, dtype=pl.String)
    return pl.DataFrame(
        {
            "table": pl.Series([table] * n, dtype=pl.String),
            "record": pl.Series(records, dtype=pl.Int64),
            "field": fields,
            "code": pl.Series([code] * n, dtype=pl.String),
        },
        schema=EXPECTED_SCHEMA,
    )


@dataclass
class _Counters:
    """Rows already written per table, so record numbers run on across chunks."""

    therapists: int
    patients: int = 0
    episodes: int = 0
    treatments: int = 0

    def records(self, table: str, rows: IntArray) -> IntArray:
        """1-based record numbers in the file of rows 0.. of this chunk's part of `table`."""
        before = {
            "therapeuten": self.therapists,
            "patienten": self.patients,
            "episodes": self.episodes,
            "verrichtingen": self.treatments,
        }[table]
        return np.asarray(before + rows + 1, dtype=np.int64)


@dataclass
class _Draw:
    """One chunk's episodes before any fault, with what the fault kinds need to know of them."""

    start: IntArray
    end: IntArray
    closed: BoolArray
    referral: IntArray
    instrument: IntArray
    main: IntArray
    treatments: _Treatments
    first_session: IntArray  # per episode: row of its first treatment session, or -1
    last_scored: IntArray  # per episode: row of its last scored measurement, or -1
    measurements: IntArray  # per episode: number of measurement rows


def _draw(ctx: _Context, rng: np.random.Generator, n: int) -> _Draw:
    start = ctx.today - rng.integers(_MIN_WINDOW - 1, _MAX_OPEN_AGE + 1, size=n)
    window_start = np.maximum(start, ctx.period_start)
    closed = rng.random(n) < 0.6
    end = window_start + _MIN_WINDOW - 1
    end = end + np.floor(rng.random(n) * (ctx.today - end + 1)).astype(np.int64)
    window_end = np.where(closed, end, ctx.today)
    referral = rng.choice(len(REFERRALS), size=n, p=_REFERRAL_P)
    instrument = rng.choice(len(INSTRUMENTS), size=n, p=_INSTRUMENT_P)
    main = rng.integers(0, ctx.therapists, size=n)
    t = _treatments(
        rng, window_start, window_end - window_start + 1, instrument, main, ctx.therapists
    )
    scored = t.measurement & (instrument[t.episode] != _NO_INSTRUMENT)
    return _Draw(
        start=start,
        end=end,
        closed=closed,
        referral=referral,
        instrument=instrument,
        main=main,
        treatments=t,
        first_session=_first_row_per_episode(t.episode, ~t.measurement, n),
        last_scored=_last_row_per_episode(t.episode, scored, n),
        measurements=np.bincount(t.episode[t.measurement], minlength=n),
    )


def _eligible(draw: _Draw) -> BoolArray:
    eligible = np.ones((draw.start.size, len(_KINDS)), dtype=np.bool_)
    eligible[:, _K["direct_access_without_screening"]] = draw.referral == REFERRALS.index("DTF")
    # Faults in treatment rows go into a session, never into the episode's measurements
    # (so it keeps one), except a score, which needs another measurement to remain.
    for name in ("treatment_unknown_episode", "treatment_unknown_therapist"):
        eligible[:, _K[name]] = draw.first_session >= 0
    eligible[:, _K["treatment_outside_episode"]] = draw.first_session >= 0
    eligible[:, _K["score_out_of_range"]] = (draw.last_scored >= 0) & (draw.measurements >= 2)
    return eligible


@dataclass(frozen=True)
class _Choice:
    """The fault kind per episode of the chunk (-1 = clean)."""

    kind: IntArray

    def of(self, name: str) -> IntArray:
        """Episodes (chunk positions) that got fault `name`."""
        return np.flatnonzero(self.kind == _K[name])

    def any_of(self, names: tuple[str, ...]) -> BoolArray:
        return np.isin(self.kind, [_K[name] for name in names])


def _message(counters: _Counters, name: str, rows: IntArray) -> pl.DataFrame:
    kind = _KINDS[_K[name]]
    return _expected(kind.table, counters.records(kind.table, rows), kind.field, kind.code)


def _patient_table(
    ctx: _Context, rng: np.random.Generator, counters: _Counters, choice: _Choice
) -> tuple[pl.DataFrame, IntArray, list[pl.DataFrame]]:
    """This chunk's patients, and per episode the row of its patient in that table.

    Patients have 1.3 episodes on average; an episode whose fault is in its patient gets a
    patient of its own, so the cascade of that patient's rejection reaches that episode only.
    """
    n = choice.kind.size
    single = choice.any_of(_PATIENT_KINDS)
    shared = np.flatnonzero(~single)
    groups = max(1, round(shared.size / 1.3)) if shared.size else 0
    patient = np.empty(n, dtype=np.int64)
    order = rng.permutation(shared.size)
    patient[shared[order[:groups]]] = np.arange(groups)
    patient[shared[order[groups:]]] = rng.integers(0, max(groups, 1), size=shared.size - groups)
    singles = np.flatnonzero(single)
    patient[singles] = groups + np.arange(singles.size)
    count = groups + singles.size
    patient_row = rng.permutation(count)[patient]
    patients = _patients(ctx, rng, counters.patients, count)

    expected: list[pl.DataFrame] = []
    for name in _PATIENT_KINDS:
        rows = patient_row[choice.of(name)]
        if rows.size == 0:
            continue
        if name == "patient_without_consent":
            column = "toestemming"
            new = labels(_REFUSALS, rng.integers(0, len(_REFUSALS), size=rows.size))
        else:
            column = "bsn"
            broken = bump_last_digit(pl.lit(patients[column].gather(rows)), pl.lit(3))
            new = pl.select(broken).to_series()
        patients = patients.with_columns(patients[column].scatter(rows, new))
        expected.append(_message(counters, name, rows))
    return patients, patient_row, expected


def _fault_therapists(
    ctx: _Context, rng: np.random.Generator, counters: _Counters, choice: _Choice, main: IntArray
) -> tuple[pl.DataFrame, IntArray, list[pl.DataFrame]]:
    """Therapists of their own for therapist-level faults; per episode its main therapist.

    The own therapist is the main therapist of that one episode and gives none of the
    treatments (which keep the therapists they were drawn with), so a rejected therapist
    cascades onto that episode only.
    """
    own = np.flatnonzero(choice.any_of(_THERAPIST_KINDS))
    therapists = _therapists(ctx, rng, counters.therapists, own.size)
    therapist_number = main.copy()
    therapist_number[own] = counters.therapists + np.arange(own.size)
    expected: list[pl.DataFrame] = []
    for name in _THERAPIST_KINDS:
        rows = np.flatnonzero(choice.kind[own] == _K[name])
        if rows.size == 0:
            continue
        column = _KINDS[_K[name]].field
        if name == "therapist_without_consent":
            new = labels(_REFUSALS, rng.integers(0, len(_REFUSALS), size=rows.size))
        elif name == "therapist_big_length":
            new = therapists[column].gather(rows).str.slice(0, 10)
        else:
            new = pl.Series([NO_AGB] * rows.size, dtype=pl.String)
        therapists = therapists.with_columns(therapists[column].scatter(rows, new))
        expected.append(_message(counters, name, rows))
    return therapists, therapist_number, expected


def _episode_table(
    ctx: _Context,
    rng: np.random.Generator,
    counters: _Counters,
    draw: _Draw,
    choice: _Choice,
    patient_row: IntArray,
    therapist_number: IntArray,
) -> tuple[pl.DataFrame, list[pl.DataFrame]]:
    n = draw.start.size
    start = draw.start.copy()
    end_present = draw.closed.copy()
    long_open = choice.of("open_longer_than_a_year")
    start[long_open] = ctx.today - rng.integers(400, 700, size=long_open.size)
    end_present[long_open] = False
    screening_present = draw.referral == REFERRALS.index("DTF")
    screening_present[choice.of("direct_access_without_screening")] = False

    dcsph = labels(DCSPH, rng.integers(0, len(DCSPH), size=n))
    not_digits = choice.of("dcsph_not_digits")
    dcsph = dcsph.scatter(not_digits, dcsph.gather(not_digits).str.slice(0, 2) + "A9")
    dcsph = keep(dcsph, choice.kind != _K["dcsph_missing"])
    chronic = labels(("J", "N"), (rng.random(n) >= 0.15).astype(np.int64))
    chronic = chronic.scatter(choice.of("chronisch_unknown_code"), "X")

    number = counters.records("episodes", np.arange(n, dtype=np.int64))
    patient_ids = _ids("P", counters.patients + patient_row + 1, ctx.width)
    lost_patient = choice.of("episode_unknown_patient")
    patient_ids = patient_ids.scatter(lost_patient, _ids("PX", number[lost_patient], ctx.width))
    therapist_ids = _ids("T", therapist_number + 1, ctx.therapist_width)
    lost_therapist = choice.of("episode_unknown_therapist")
    therapist_ids = therapist_ids.scatter(
        lost_therapist, _ids("TX", number[lost_therapist], ctx.therapist_width)
    )
    screening = rng.choice(len(SCREENING), size=n, p=_SCREENING_P)
    episodes = pl.DataFrame(
        [
            _ids("E", number, ctx.width).alias("episode_id"),
            patient_ids.alias("patient_id"),
            therapist_ids.alias("therapeut_id"),
            dates(start).alias("startdatum"),
            dates(draw.end, end_present).alias("einddatum"),
            labels(REFERRALS, draw.referral).alias("verwijzing"),
            dcsph.alias("dcsph"),
            chronic.alias("chronisch"),
            labels(SCREENING, screening, screening_present).alias("screening_uitkomst"),
        ]
    )
    expected = [
        _message(counters, name, choice.of(name)) for name in _EPISODE_KINDS if choice.of(name).size
    ]
    for name, field in _CASCADES.items():
        hit = choice.of(name)
        if hit.size:
            expected.append(_expected("episodes", number[hit], field, "F-101"))
    return episodes, expected


def _treatment_table(
    ctx: _Context,
    rng: np.random.Generator,
    counters: _Counters,
    draw: _Draw,
    choice: _Choice,
    episode_ids: pl.Series,
) -> tuple[pl.DataFrame, list[pl.DataFrame]]:
    t = draw.treatments
    number = counters.records("verrichtingen", np.arange(t.episode.size, dtype=np.int64))
    measurement = t.measurement.copy()
    measurement[np.isin(t.episode, choice.of("episode_without_measurement"))] = False
    instrument = draw.instrument[t.episode]

    score = t.score.copy()
    out_of_range = draw.last_scored[choice.of("score_out_of_range")]
    score[out_of_range] = (
        _SCORE_HIGH[instrument[out_of_range]] + 1 + rng.integers(0, 5, size=out_of_range.size)
    )
    day = t.day.copy()
    outside = draw.first_session[choice.of("treatment_outside_episode")]
    day[outside] = draw.start[t.episode[outside]] - rng.integers(1, 21, size=outside.size)
    treatment_episodes = episode_ids.gather(t.episode)
    lost_episode = draw.first_session[choice.of("treatment_unknown_episode")]
    treatment_episodes = treatment_episodes.scatter(
        lost_episode, _ids("EX", number[lost_episode], ctx.width)
    )
    givers = _ids("T", t.therapist + 1, ctx.therapist_width)
    lost_giver = draw.first_session[choice.of("treatment_unknown_therapist")]
    givers = givers.scatter(lost_giver, _ids("TX", number[lost_giver], ctx.therapist_width))

    treatments = pl.DataFrame(
        [
            treatment_episodes.alias("episode_id"),
            dates(day).alias("datum"),
            labels(("B", "M"), measurement.astype(np.int64)).alias("soort"),
            givers.alias("therapeut_id"),
            labels(PRESTATIECODES, t.code, ~measurement).alias("prestatiecode"),
            labels(INSTRUMENTS, instrument, measurement).alias("instrument"),
            keep(
                pl.Series(score, dtype=pl.Int64).cast(pl.String),
                measurement & (instrument != _NO_INSTRUMENT),
            ).alias("score"),
        ]
    )
    expected = [
        _message(counters, name, rows)
        for name, rows in (
            ("treatment_unknown_episode", lost_episode),
            ("treatment_unknown_therapist", lost_giver),
            ("score_out_of_range", out_of_range),
            ("treatment_outside_episode", outside),
        )
        if rows.size
    ]
    return treatments, expected


@dataclass
class _ChunkOutput:
    therapists: pl.DataFrame
    patients: pl.DataFrame
    episodes: pl.DataFrame
    treatments: pl.DataFrame
    expected: list[pl.DataFrame]


def _chunk(
    ctx: _Context, rng: np.random.Generator, counters: _Counters, n: int, error_rate: float
) -> _ChunkOutput:
    """The next n episodes with everything that belongs to them; advances the counters."""
    draw = _draw(ctx, rng, n)
    choice = _Choice(choose_faults(rng, _eligible(draw), error_rate))
    patients, patient_row, expected = _patient_table(ctx, rng, counters, choice)
    therapists, therapist_number, more = _fault_therapists(ctx, rng, counters, choice, draw.main)
    expected += more
    episodes, more = _episode_table(ctx, rng, counters, draw, choice, patient_row, therapist_number)
    expected += more
    treatments, more = _treatment_table(ctx, rng, counters, draw, choice, episodes["episode_id"])
    expected += more
    counters.therapists += therapists.height
    counters.patients += patients.height
    counters.episodes += n
    counters.treatments += treatments.height
    return _ChunkOutput(therapists, patients, episodes, treatments, expected)


def generate_nivel_fysio(
    *,
    rows: int,
    out: Path,
    error_rate: float,
    seed: int,
    organisation: str | None,
    today: datetime.date,
) -> Generated:
    practice = organisation or DEFAULT_ORGANISATION
    ctx = _context(seed, practice, today, rows)
    global_rng = np.random.default_rng([seed, _SALT, 2_000_000])
    found: list[pl.DataFrame] = []
    out.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=out.parent, prefix=".zorgbroker-generate-") as scratch:
        folder = Path(scratch)
        with ExitStack() as stack:
            sinks = {
                name: stack.enter_context(CsvSink(folder / f"{name}.csv", columns))
                for name, columns in TABLES.items()
            }
            sinks["praktijk"].write(_praktijk(ctx, global_rng))
            sinks["therapeuten"].write(_therapists(ctx, global_rng, 0, ctx.therapists))
            counters = _Counters(therapists=ctx.therapists)
            for number, _, n in chunks(rows, _EPISODES_PER_CHUNK):
                part = _chunk(ctx, chunk_rng(seed, _SALT, number), counters, n, error_rate)
                sinks["therapeuten"].write(part.therapists)
                sinks["patienten"].write(part.patients)
                sinks["episodes"].write(part.episodes)
                sinks["verrichtingen"].write(part.treatments)
                found.extend(part.expected)
        with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as archive:
            for name in TABLES:
                archive.write(folder / f"{name}.csv", arcname=f"{name}.csv")
    return Generated(
        path=out,
        rows=rows,
        organisation=practice,
        expected=expected_from_frames(found, TABLE_ORDER),
    )
