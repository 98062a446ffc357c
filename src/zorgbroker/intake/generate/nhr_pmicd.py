"""Synthetic `nhr-pmicd` files: one CSV, one row per pacemaker/ICD procedure.

Clean rows satisfy every rule of the dataset: device, procedure type, leads and indication fit
together (LEADLESS has no leads, S-ICD one lead at SUBQ, dual-chamber devices two, CRT devices an
LV or HIS lead), procedures lie 1-27 days before `today` (always less than one month, so W-304
stays silent), the admission period holds the procedure, ages at procedure are 20-97, BSNs and
serial numbers (generator and leads together) are unique in the file.

Faults, one per faulted row, each raising one message (`message_fields` says which field):
F-301 broken BSN check digit; F-302 procedure in the future (admission and death dates emptied);
F-303 born after the procedure; F-304 lead count impossible for the device; F-305 a lead position
beyond the count, or a lead serial missing within it; F-306 broken UDI-DI check digit; F-307
serial number missing; F-308 discharge before admission, or death before the procedure; F-309
another centre; F-001 BIG number or sex empty; F-002 BIG number with letters, or `abc` as lead
count; F-003 sex or manufacturer not in the code list; F-004 lead count 5; F-005 a lead serial
longer than 30; W-301 age 15 or 102; W-302 procedure after the discharge; W-303 complication type
while complicatie_30d is N or O; W-304 sent 40-289 days late.

F-303 and F-308 (discharge before admission) raise one message only because the specification
does not also report what follows from them: W-301 is not raised for a procedure before birth,
W-302 not for an inverted admission period.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import polars as pl

from zorgbroker.intake.generate.columns import (
    CsvSink,
    IntArray,
    chunk_rng,
    chunks,
    dates,
    day_number,
    keep,
    labels,
)
from zorgbroker.intake.generate.faults import RowFault, choose_faults, eligibility, inject
from zorgbroker.intake.generate.model import Expected, Generated, expected_from_frames
from zorgbroker.intake.generate.names import surnames
from zorgbroker.intake.generate.numbers import (
    BSN_CAPACITY,
    Permutation,
    bsn_from_index,
    bump_last_digit,
    digits,
    gtin14,
)

DATASET = "nhr-pmicd"
DEFAULT_ORGANISATION = "01234567"
_SALT = 301

LEAD_POSITIONS = tuple(f"lead{i}_positie" for i in range(1, 5))
LEAD_SERIALS = tuple(f"lead{i}_serienummer" for i in range(1, 5))

#: The header, in the order of the dataset specification.
COLUMNS: tuple[str, ...] = (
    "centrum_agb",
    "bsn",
    "achternaam",
    "geboortedatum",
    "geslacht",
    "procedure_datum",
    "procedure_type",
    "device_type",
    "indicatie",
    "fabrikant",
    "udi_di",
    "serienummer",
    "aantal_leads",
    *LEAD_POSITIONS,
    *LEAD_SERIALS,
    "opname_datum",
    "ontslag_datum",
    "complicatie_30d",
    "complicatie_type",
    "operateur_big",
    "overlijdensdatum",
)

PROCEDURE_TYPES = ("1", "2", "3", "4", "5")
_TYPE = {code: index for index, code in enumerate(PROCEDURE_TYPES)}
_PROCEDURE_P = (0.62, 0.22, 0.05, 0.08, 0.03)

DEVICES = ("PM-SC", "PM-DC", "CRT-P", "ICD-SC", "ICD-DC", "CRT-D", "S-ICD", "LEADLESS")
_DEVICE_P = (0.15, 0.42, 0.05, 0.06, 0.08, 0.10, 0.04, 0.10)
#: Upgrades (type 3) go to a device with more leads.
_UPGRADE_DEVICES = (1, 2, 4, 5)
_UPGRADE_P = (0.15, 0.35, 0.15, 0.35)
_DUAL_CHAMBER = ("PM-DC", "ICD-DC")
_CRT = ("CRT-P", "CRT-D")

MANUFACTURERS = ("MDT", "ABT", "BSC", "BIO", "MPS", "OTH")
_MANUFACTURER_P = (0.34, 0.22, 0.20, 0.16, 0.05, 0.03)
#: Invented GS1 company prefixes (7 digits) and serial-number prefixes per manufacturer.
_COMPANY_PREFIX = (8712345, 5414734, 8714729, 4035479, 6927839, 8719999)
_SERIAL_PREFIX = ("MD", "AB", "BS", "BI", "MP", "XS")
_MODELS_PER_DEVICE = 3

POSITIONS = ("RA", "RV", "LV", "HIS", "SUBQ")
_RA, _RV, _LV, _HIS, _SUBQ = range(5)
#: Lead configurations per device: (probability, positions).
_LEAD_CONFIGS: dict[str, tuple[tuple[float, tuple[int, ...]], ...]] = {
    "PM-SC": ((0.88, (_RV,)), (0.05, (_RA,)), (0.07, (_HIS,))),
    "PM-DC": ((0.88, (_RA, _RV)), (0.12, (_RA, _HIS))),
    "CRT-P": (
        (0.78, (_RA, _RV, _LV)),
        (0.10, (_RV, _LV)),
        (0.08, (_RA, _RV, _HIS)),
        (0.04, (_RA, _RV, _LV, _LV)),
    ),
    "ICD-SC": ((1.0, (_RV,)),),
    "ICD-DC": ((1.0, (_RA, _RV)),),
    "CRT-D": ((0.82, (_RA, _RV, _LV)), (0.12, (_RV, _LV)), (0.06, (_RA, _RV, _LV, _LV))),
    "S-ICD": ((1.0, (_SUBQ,)),),
    "LEADLESS": ((1.0, ()),),
}

INDICATIONS = ("AVB", "SND", "AF-BRADY", "SYNC", "HF", "PRIM", "SEC", "OTH")
#: Indication probabilities per device, in INDICATIONS order.
_INDICATION_P: dict[str, tuple[float, ...]] = {
    "PM-SC": (0.30, 0.15, 0.45, 0.05, 0.0, 0.0, 0.0, 0.05),
    "PM-DC": (0.50, 0.38, 0.0, 0.08, 0.0, 0.0, 0.0, 0.04),
    "CRT-P": (0.10, 0.0, 0.0, 0.0, 0.90, 0.0, 0.0, 0.0),
    "ICD-SC": (0.0, 0.0, 0.0, 0.0, 0.0, 0.55, 0.43, 0.02),
    "ICD-DC": (0.0, 0.0, 0.0, 0.0, 0.0, 0.55, 0.43, 0.02),
    "CRT-D": (0.0, 0.0, 0.0, 0.0, 0.70, 0.25, 0.05, 0.0),
    "S-ICD": (0.0, 0.0, 0.0, 0.0, 0.0, 0.70, 0.30, 0.0),
    "LEADLESS": (0.30, 0.15, 0.50, 0.0, 0.0, 0.0, 0.0, 0.05),
}
#: Mean and spread of the age at procedure per device; clipped to 20-97.
_AGE: dict[str, tuple[float, float]] = {
    "PM-SC": (79, 8),
    "PM-DC": (75, 9),
    "CRT-P": (76, 8),
    "ICD-SC": (64, 11),
    "ICD-DC": (63, 11),
    "CRT-D": (69, 9),
    "S-ICD": (48, 14),
    "LEADLESS": (81, 7),
}

SEXES = ("M", "V", "X", "O")
_SEX_P = (0.62, 0.375, 0.003, 0.002)
COMPLICATION_FLAGS = ("J", "N", "O")
_COMPLICATION_P = (0.04, 0.90, 0.06)
COMPLICATION_TYPES = (
    "POCKET",
    "LEAD-DISL",
    "PNEUMO",
    "TAMPONADE",
    "INFECTIE",
    "HEMATOOM",
    "OVERIG",
)

#: Clean procedures lie this many days before `today`: never more than one month.
_MAX_DAYS_AGO = 27


@dataclass(frozen=True)
class _Context:
    """What stays the same over all chunks of one file."""

    organisation: str
    today: int
    bsn: Permutation
    serial: Permutation
    operators: tuple[str, ...]
    other_centres: tuple[str, ...]


def _context(seed: int, organisation: str, today: datetime.date) -> _Context:
    rng = np.random.default_rng([seed, _SALT, 1_000_000])
    operators = tuple(str(v) for v in rng.integers(10**10, 10**11, size=24))
    others = tuple(
        code
        for code in (str(v).zfill(8) for v in rng.integers(6_000_000, 7_000_000, size=6))
        if code != organisation
    )
    return _Context(
        organisation=organisation,
        today=day_number(today),
        bsn=Permutation.draw(rng, BSN_CAPACITY),
        serial=Permutation.draw(rng, 10**10),
        operators=operators,
        other_centres=others,
    )


def _by_group(
    rng: np.random.Generator, group: IntArray, options: dict[int, tuple[float, ...]]
) -> IntArray:
    """Draw an option index per row from the distribution of the row's group."""
    result = np.zeros(group.shape, dtype=np.int64)
    for key, probabilities in options.items():
        rows = np.flatnonzero(group == key)
        if rows.size:
            result[rows] = rng.choice(len(probabilities), size=rows.size, p=probabilities)
    return result


def _serials(
    ctx: _Context, rows: IntArray, slot: int | IntArray, maker: IntArray, lead: bool
) -> pl.Series:
    """Serial numbers unique over the whole file: each (row, slot) maps to its own number."""
    number = digits(ctx.serial(rows * 5 + slot), 10)
    prefix = labels([p + ("L" if lead else "") for p in _SERIAL_PREFIX], maker)
    return pl.select(pl.concat_str([prefix, number])).to_series()


def clean_chunk(ctx: _Context, rng: np.random.Generator, start: int, n: int) -> pl.DataFrame:
    """Rows start..start+n-1 of a file without faults, plus hidden helper columns (`_*`)."""
    rows = np.arange(start, start + n, dtype=np.int64)
    ptype = rng.choice(len(PROCEDURE_TYPES), size=n, p=_PROCEDURE_P)
    device = rng.choice(len(DEVICES), size=n, p=_DEVICE_P)
    upgrade = ptype == _TYPE["3"]
    revision = ptype == _TYPE["4"]  # leads only: no generator, no indication
    device[upgrade] = np.asarray(_UPGRADE_DEVICES)[
        rng.choice(len(_UPGRADE_DEVICES), size=int(upgrade.sum()), p=_UPGRADE_P)
    ]
    # A lead revision on a leadless device is impossible: make it a dual-chamber pacemaker.
    device[revision & (device == DEVICES.index("LEADLESS"))] = DEVICES.index("PM-DC")

    maker = rng.choice(len(MANUFACTURERS), size=n, p=_MANUFACTURER_P)
    maker[device == DEVICES.index("S-ICD")] = MANUFACTURERS.index("BSC")
    leadless = device == DEVICES.index("LEADLESS")
    maker[leadless] = np.where(rng.random(int(leadless.sum())) < 0.7, 0, 1)

    model = rng.integers(0, _MODELS_PER_DEVICE, size=n)
    body = (
        np.asarray(_COMPANY_PREFIX, dtype=np.int64)[maker] * 100_000
        + 10_000
        + device * 100
        + model * 7
    )
    udi = gtin14(body)

    config = _by_group(
        rng,
        device,
        {DEVICES.index(d): tuple(p for p, _ in c) for d, c in _LEAD_CONFIGS.items()},
    )
    lead_table = np.full((len(DEVICES), 4, 4), -1, dtype=np.int64)
    lead_count = np.zeros((len(DEVICES), 4), dtype=np.int64)
    for d, options in _LEAD_CONFIGS.items():
        for c, (_, config_positions) in enumerate(options):
            lead_count[DEVICES.index(d), c] = len(config_positions)
            lead_table[DEVICES.index(d), c, : len(config_positions)] = config_positions
    n_leads = lead_count[device, config]
    positions = lead_table[device, config]

    indication = _by_group(rng, device, {DEVICES.index(d): p for d, p in _INDICATION_P.items()})
    has_generator = ~revision
    implant = ptype <= _TYPE["3"]  # types 1-3 put a generator in: indication and UDI-DI

    days_ago = rng.integers(1, _MAX_DAYS_AGO + 1, size=n)
    procedure = ctx.today - days_ago
    age_mean = np.asarray([_AGE[d][0] for d in DEVICES])[device]
    age_sd = np.asarray([_AGE[d][1] for d in DEVICES])[device]
    age = np.clip(rng.normal(age_mean, age_sd), 21, 97).astype(np.int64)
    birth = procedure - np.floor(age * 365.2425 + rng.random(n) * 360).astype(np.int64)

    admitted = rng.random(n) < 0.9
    admission = procedure - rng.choice(3, size=n, p=(0.55, 0.35, 0.10))
    discharge = np.minimum(
        procedure + rng.choice(5, size=n, p=(0.3, 0.35, 0.2, 0.1, 0.05)), ctx.today
    )
    died = rng.random(n) < 0.004
    death = procedure + np.floor(rng.random(n) * (ctx.today - procedure + 1)).astype(np.int64)

    complication = rng.choice(len(COMPLICATION_FLAGS), size=n, p=_COMPLICATION_P)
    complication_type = rng.integers(0, len(COMPLICATION_TYPES), size=n)

    frame = pl.DataFrame(
        [
            pl.Series("centrum_agb", [ctx.organisation] * n, dtype=pl.String),
            digits(bsn_from_index(rows, ctx.bsn), 9).alias("bsn"),
            keep(surnames(rng, n), rng.random(n) < 0.96).alias("achternaam"),
            dates(birth).alias("geboortedatum"),
            labels(SEXES, rng.choice(len(SEXES), size=n, p=_SEX_P)).alias("geslacht"),
            dates(procedure).alias("procedure_datum"),
            labels(PROCEDURE_TYPES, ptype).alias("procedure_type"),
            labels(DEVICES, device).alias("device_type"),
            labels(INDICATIONS, indication, implant).alias("indicatie"),
            labels(MANUFACTURERS, maker, has_generator).alias("fabrikant"),
            keep(digits(udi, 14), implant).alias("udi_di"),
            keep(_serials(ctx, rows, 0, maker, lead=False), has_generator).alias("serienummer"),
            digits(n_leads, 1).alias("aantal_leads"),
            *[
                labels(POSITIONS, np.maximum(positions[:, i], 0), positions[:, i] >= 0).alias(
                    LEAD_POSITIONS[i]
                )
                for i in range(4)
            ],
            *[
                keep(_serials(ctx, rows, i + 1, maker, lead=True), n_leads > i).alias(
                    LEAD_SERIALS[i]
                )
                for i in range(4)
            ],
            dates(admission, admitted).alias("opname_datum"),
            dates(discharge, admitted).alias("ontslag_datum"),
            labels(COMPLICATION_FLAGS, complication).alias("complicatie_30d"),
            labels(COMPLICATION_TYPES, complication_type, complication == 0).alias(
                "complicatie_type"
            ),
            labels(ctx.operators, rng.integers(0, len(ctx.operators), size=n)).alias(
                "operateur_big"
            ),
            dates(death, died).alias("overlijdensdatum"),
        ]
    )
    # A serial for a lead slot the row does not use, for faults that add a lead.
    spare = _serials(ctx, rows, np.minimum(n_leads, 3) + 1, maker, lead=True)
    return frame.with_columns(
        pl.Series("_leads", n_leads, dtype=pl.Int64),
        pl.Series("_u", rng.random(n), dtype=pl.Float64),
        pl.Series("_shift", rng.integers(1, 10, size=n), dtype=pl.Int64),
        spare.alias("_spare_serial"),
        labels(ctx.other_centres, rng.integers(0, len(ctx.other_centres), size=n)).alias(
            "_other_centre"
        ),
    )


def _days(expr: pl.Expr) -> pl.Expr:
    return pl.duration(days=expr)


def _faults(today: datetime.date) -> list[RowFault]:
    device = pl.col("device_type")
    ptype = pl.col("procedure_type")
    leads = pl.col("_leads")
    u = pl.col("_u")
    procedure = pl.col("procedure_datum")
    spread = (u * 1000).cast(pl.Int64)  # a second draw from the same uniform, for a day count

    crt_fix = {
        column: pl.when(device.is_in(_CRT) & pl.col(column).is_in(["LV", "HIS"]))
        .then(pl.lit("RV"))
        .otherwise(pl.col(column))
        for column in LEAD_POSITIONS
    }
    lead_count = {
        "aantal_leads": pl.when(device == "LEADLESS")
        .then(pl.lit("1"))
        .when(device == "S-ICD")
        .then(pl.lit("2"))
        .when(device.is_in(_DUAL_CHAMBER))
        .then(pl.lit("1"))
        .otherwise(pl.col("aantal_leads")),
        "lead1_positie": pl.when(device == "LEADLESS")
        .then(pl.lit("RV"))
        .otherwise(crt_fix["lead1_positie"]),
        "lead1_serienummer": pl.when(device == "LEADLESS")
        .then(pl.col("_spare_serial"))
        .otherwise(pl.col("lead1_serienummer")),
        "lead2_positie": pl.when(device == "S-ICD")
        .then(pl.lit("RV"))
        .when(device.is_in(_DUAL_CHAMBER))
        .then(pl.lit(None, dtype=pl.String))
        .otherwise(crt_fix["lead2_positie"]),
        "lead2_serienummer": pl.when(device == "S-ICD")
        .then(pl.col("_spare_serial"))
        .when(device.is_in(_DUAL_CHAMBER))
        .then(pl.lit(None, dtype=pl.String))
        .otherwise(pl.col("lead2_serienummer")),
        "lead3_positie": crt_fix["lead3_positie"],
        "lead4_positie": crt_fix["lead4_positie"],
    }
    no_date = pl.lit(None, dtype=pl.Date)
    late = _days(40 + spread % 250)
    return [
        RowFault(
            "bsn_elfproef",
            "F-301",
            "bsn",
            pl.lit(True),
            {"bsn": bump_last_digit(pl.col("bsn"), pl.col("_shift"))},
        ),
        RowFault(
            "procedure_in_future",
            "F-302",
            "procedure_datum",
            pl.lit(True),
            {
                # The admission and death dates go too, so W-302 and F-308 stay silent.
                "procedure_datum": pl.lit(today) + _days(1 + spread % 30),
                "opname_datum": no_date,
                "ontslag_datum": no_date,
                "overlijdensdatum": no_date,
            },
        ),
        RowFault(
            "lead_count_for_device",
            "F-304",
            "aantal_leads",
            device.is_in(["LEADLESS", "S-ICD"])
            | ((ptype == "1") & device.is_in([*_DUAL_CHAMBER, *_CRT])),
            lead_count,
        ),
        RowFault(
            "lead_position_beyond_count",
            "F-305",
            pl.format("lead{}_positie", leads + 1),
            ~device.is_in(["LEADLESS", "S-ICD"]) & (leads < 4),
            {
                column: pl.when(leads == i).then(pl.lit("RV")).otherwise(pl.col(column))
                for i, column in enumerate(LEAD_POSITIONS)
            },
        ),
        RowFault(
            "lead_serial_missing",
            "F-305",
            pl.format("lead{}_serienummer", leads),
            (leads >= 1) & (ptype != "4"),
            {
                column: pl.when(leads == i + 1)
                .then(pl.lit(None, dtype=pl.String))
                .otherwise(pl.col(column))
                for i, column in enumerate(LEAD_SERIALS)
            },
        ),
        RowFault(
            "udi_check_digit",
            "F-306",
            "udi_di",
            pl.col("udi_di").is_not_null(),
            {"udi_di": bump_last_digit(pl.col("udi_di"), pl.col("_shift"))},
        ),
        RowFault(
            "serial_missing",
            "F-307",
            "serienummer",
            pl.col("serienummer").is_not_null(),
            {"serienummer": pl.lit(None, dtype=pl.String)},
        ),
        RowFault(
            "born_after_procedure",
            "F-303",
            "procedure_datum",
            pl.lit(True),
            # Born between the procedure and today: after the procedure, never in the future.
            {
                "geboortedatum": procedure
                + _days(1 + spread % (pl.lit(today) - procedure).dt.total_days())
            },
        ),
        RowFault(
            "discharge_before_admission",
            "F-308",
            "ontslag_datum",
            pl.col("opname_datum").is_not_null(),
            {"ontslag_datum": pl.col("opname_datum") - _days(1 + spread % 3)},
        ),
        RowFault(
            "death_before_procedure",
            "F-308",
            "overlijdensdatum",
            pl.lit(True),
            {"overlijdensdatum": procedure - _days(1 + spread % 200)},
        ),
        RowFault(
            "other_centre",
            "F-309",
            "centrum_agb",
            pl.lit(True),
            {"centrum_agb": pl.col("_other_centre")},
        ),
        RowFault(
            "operator_missing",
            "F-001",
            "operateur_big",
            pl.lit(True),
            {"operateur_big": pl.lit(None, dtype=pl.String)},
        ),
        RowFault(
            "sex_missing",
            "F-001",
            "geslacht",
            pl.lit(True),
            {"geslacht": pl.lit(None, dtype=pl.String)},
        ),
        RowFault(
            "operator_not_digits",
            "F-002",
            "operateur_big",
            pl.lit(True),
            {"operateur_big": pl.concat_str([pl.lit("BIG"), pl.col("operateur_big").str.slice(3)])},
        ),
        RowFault(
            "lead_count_not_a_number",
            "F-002",
            "aantal_leads",
            pl.lit(True),
            {"aantal_leads": pl.lit("abc")},
        ),
        RowFault(
            "sex_unknown_code",
            "F-003",
            "geslacht",
            pl.lit(True),
            {"geslacht": pl.lit("Q")},
        ),
        RowFault(
            "manufacturer_unknown_code",
            "F-003",
            "fabrikant",
            pl.col("fabrikant").is_not_null(),
            {"fabrikant": pl.lit("XYZ")},
        ),
        RowFault(
            "lead_count_above_four",
            "F-004",
            "aantal_leads",
            pl.lit(True),
            {"aantal_leads": pl.lit("5")},
        ),
        RowFault(
            # The generator's serial has a pattern (a too long one is F-002); lead serials only
            # have a length limit, so a too long lead serial is the F-005 case.
            "lead_serial_too_long",
            "F-005",
            pl.format("lead{}_serienummer", leads),
            leads >= 1,
            {
                column: pl.when(leads == i + 1)
                .then(pl.concat_str([pl.col(column), pl.col("_spare_serial"), pl.lit("00000")]))
                .otherwise(pl.col(column))
                for i, column in enumerate(LEAD_SERIALS)
            },
        ),
        RowFault(
            "under_18",
            "W-301",
            "geboortedatum",
            pl.lit(True),
            {"geboortedatum": procedure.dt.offset_by("-15y") - _days(10 + spread % 300)},
        ),
        RowFault(
            "over_100",
            "W-301",
            "geboortedatum",
            pl.lit(True),
            {"geboortedatum": procedure.dt.offset_by("-102y") - _days(10 + spread % 300)},
        ),
        RowFault(
            "procedure_outside_admission",
            "W-302",
            "procedure_datum",
            pl.col("opname_datum").is_not_null(),
            {
                "opname_datum": procedure - _days(8 + spread % 5),
                "ontslag_datum": procedure - _days(1 + spread % 3),
            },
        ),
        RowFault(
            "complication_type_without_complication",
            "W-303",
            "complicatie_type",
            pl.col("complicatie_30d") != "J",
            {"complicatie_type": pl.lit("HEMATOOM")},
        ),
        RowFault(
            "sent_too_late",
            "W-304",
            "procedure_datum",
            pl.lit(True),
            {
                column: pl.col(column) - late
                for column in (
                    "procedure_datum",
                    "opname_datum",
                    "ontslag_datum",
                    "overlijdensdatum",
                )
            },
        ),
    ]


def generate_nhr_pmicd(
    *,
    rows: int,
    out: Path,
    error_rate: float,
    seed: int,
    organisation: str | None,
    today: datetime.date,
) -> Generated:
    centre = organisation or DEFAULT_ORGANISATION
    ctx = _context(seed, centre, today)
    faults = _faults(today)
    found: list[pl.DataFrame] = []
    with CsvSink(out, COLUMNS) as sink:
        for number, start, n in chunks(rows):
            rng = chunk_rng(seed, _SALT, number)
            frame = clean_chunk(ctx, rng, start, n)
            choice = choose_faults(rng, eligibility(frame, faults), error_rate)
            frame, expected = inject(frame, faults, choice, table=None, record_offset=start)
            sink.write(frame)
            if expected.height:
                found.append(expected)
    result: list[Expected] = expected_from_frames(found, ())
    return Generated(path=out, rows=rows, organisation=centre, expected=result)
