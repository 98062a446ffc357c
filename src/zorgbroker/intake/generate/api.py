"""`generate()`: one entry point for all three datasets."""

from __future__ import annotations

import dataclasses
import datetime
import math
import re
import tempfile
from functools import partial
from pathlib import Path
from typing import Protocol

from zorgbroker.intake.generate import model
from zorgbroker.intake.generate.model import Generated
from zorgbroker.intake.generate.nhr_pmicd import generate_nhr_pmicd
from zorgbroker.intake.generate.nivel_fysio import generate_nivel_fysio
from zorgbroker.intake.generate.numbers import BSN_CAPACITY
from zorgbroker.intake.generate.parabench_mi import generate_parabench_mi
from zorgbroker.intake.generate.workbook import csv_tables, is_xlsx, write_workbook


class _Generator(Protocol):
    def __call__(
        self,
        *,
        rows: int,
        out: Path,
        error_rate: float,
        seed: int,
        organisation: str | None,
        today: datetime.date,
    ) -> Generated: ...


class _Make(Protocol):
    """A generator with every argument but `out` given."""

    def __call__(self, *, out: Path) -> Generated: ...


_GENERATORS: dict[str, _Generator] = {
    "nhr-pmicd": generate_nhr_pmicd,
    "nivel-fysio": generate_nivel_fysio,
    "parabench-mi": generate_parabench_mi,
}
#: Dataset name -> file extension of what the generator writes.
DATASETS: dict[str, str] = {"nhr-pmicd": ".csv", "nivel-fysio": ".zip", "parabench-mi": ".csv"}

_AGB = re.compile(r"\d{8}")


def default_output(dataset: str, rows: int) -> Path:
    return Path(f"{dataset}-{rows}{DATASETS[dataset]}")


def check_arguments(
    dataset: str, rows: int, error_rate: float, seed: int, organisation: str | None
) -> None:
    """Raise ValueError with a Dutch explanation for arguments the generator cannot use."""
    if dataset not in _GENERATORS:
        known = ", ".join(sorted(_GENERATORS))
        raise ValueError(f"Onbekende dataset '{dataset}'. Kies uit: {known}.")
    if rows < 1:
        raise ValueError("--rows moet minstens 1 zijn.")
    if rows > BSN_CAPACITY:
        # Every row (nhr-pmicd) or patient (nivel-fysio) needs a BSN of its own.
        raise ValueError(f"--rows mag hooguit {BSN_CAPACITY} zijn.")
    if not (math.isfinite(error_rate) and 0.0 <= error_rate <= 1.0):
        raise ValueError("--error-rate moet tussen 0 en 1 liggen.")
    if seed < 0:
        raise ValueError("--seed moet 0 of groter zijn.")
    if organisation is not None and not _AGB.fullmatch(organisation):
        raise ValueError("--organisation moet een AGB-code van precies 8 cijfers zijn.")


def generate(
    dataset: str,
    *,
    rows: int,
    out: Path,
    error_rate: float = 0.0,
    seed: int = 0,
    organisation: str | None = None,
    today: datetime.date | None = None,
    write_expected: bool = False,
) -> Generated:
    """Write a synthetic file of `dataset` to `out` and say which messages it must raise.

    `out` ending in .xlsx gives an Excel workbook with the same cells as text, one sheet per
    table; a table longer than a sheet raises `SheetTooLong` (a ValueError) and leaves no file.

    With error_rate 0 the file raises no message at all. With error_rate R about R of the records
    get exactly one fault each; `expected` lists every message those faults raise (see
    `message_fields` for which field a message names). Checks must use the same `today` and the
    returned `organisation` as the uploader. The same arguments always give the same file.
    """
    check_arguments(dataset, rows, error_rate, seed, organisation)
    day = today or datetime.date.today()
    make = partial(
        _GENERATORS[dataset],
        rows=rows,
        error_rate=error_rate,
        seed=seed,
        organisation=organisation,
        today=day,
    )
    target = Path(out)
    generated = _as_workbook(dataset, make, target) if is_xlsx(target) else make(out=target)
    if write_expected:
        model.write_expected(
            generated, dataset=dataset, seed=seed, error_rate=error_rate, today=day
        )
    return generated


def _as_workbook(dataset: str, make: _Make, out: Path) -> Generated:
    """Generate the dataset's usual file beside `out`, then turn it into the workbook `out`.

    Everything is made in a scratch folder (synthetic data, nothing to protect) and the workbook
    moved into place only when complete, so a refusal or a failure leaves no partial file.
    """
    out.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=out.parent, prefix=".zorgbroker-generate-") as scratch:
        folder = Path(scratch)
        made = make(out=folder / f"{dataset}{DATASETS[dataset]}")
        workbook = folder / out.name
        write_workbook(csv_tables(made.path, folder / "tables", single=dataset), workbook)
        workbook.replace(out)
    return dataclasses.replace(made, path=out)
