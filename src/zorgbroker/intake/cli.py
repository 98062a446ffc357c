"""`zorgbroker datasets`, `zorgbroker check`, and `zorgbroker demo --alleen-controle`'s check."""

from __future__ import annotations

import datetime as dt
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from zorgbroker.cli.common import (
    EXIT_FILE_REJECTED,
    EXIT_OK,
    DatasetOption,
    Format,
    FormatOption,
    OutputOption,
    TodayOption,
    console,
    emit,
    fail_usage,
    parse_today,
)
from zorgbroker.intake.spec import SpecError, available, load_dataset

# The engine is not needed for the commands' help. `check` and `demo` preload it as they start,
# while garbage collection is still paused for the start-up (zorgbroker.cli.COMMANDS).
if TYPE_CHECKING:
    from zorgbroker.intake.checks.context import CheckOutcome

#: Files smaller than this are checked too fast for a progress bar to be worth drawing.
PROGRESS_FROM_BYTES = 32 * 1024 * 1024


def datasets_command() -> None:
    """Toon de datasetspecificaties die deze installatie kent."""
    from rich.table import Table

    table = Table("dataset", "versie", "omschrijving", title="Bekende datasets")
    for entry in available():
        table.add_row(entry.name, entry.version, entry.title)
    console().print(table)


def run_check(
    file: Path, dataset: str, organisation: str | None, today: dt.date | None
) -> CheckOutcome:
    from zorgbroker.intake.service import check_file

    if not file.is_file():
        raise fail_usage(f"bestand '{file}' bestaat niet of is geen bestand")
    if organisation is not None and not (organisation.isdigit() and len(organisation) == 8):
        raise fail_usage(f"--organisation '{organisation}' is geen AGB-code van 8 cijfers")
    size = file.stat().st_size
    try:
        if size < PROGRESS_FROM_BYTES or not sys.stderr.isatty():
            return check_file(file, dataset, organisation=organisation, today=today)
        from rich.progress import BarColumn, DownloadColumn, Progress, TimeRemainingColumn

        with Progress(
            "[progress.description]{task.description}",
            BarColumn(),
            DownloadColumn(),
            TimeRemainingColumn(),
            console=console(stderr=True),
            transient=True,
        ) as bar:
            task = bar.add_task(f"Controle {file.name}", total=size)
            return check_file(
                file,
                dataset,
                organisation=organisation,
                today=today,
                progress=lambda done, total: bar.update(task, completed=done, total=total or size),
            )
    except SpecError as exc:
        raise fail_usage(str(exc)) from None


def rules_needing_organisation(dataset: str) -> list[str]:
    """The codes of the rules (or parts of them) that hold only when the uploader is known."""
    spec = load_dataset(dataset)
    return sorted(
        {
            rule.code
            for table in spec.tables
            for rule in table.rules
            if "organisation()" in rule.when
        }
    )


def check_command(
    file: Annotated[Path, typer.Argument(help="Het bestand (CSV, XLSX of ZIP) om te controleren.")],
    dataset: DatasetOption,
    organisation: Annotated[
        str | None,
        typer.Option("--organisation", help="AGB-code van de aanleverende organisatie."),
    ] = None,
    fmt: FormatOption = Format.text,
    output: OutputOption = None,
    today: TodayOption = None,
) -> None:
    """Controleer een bestand als testaanlevering: niets wordt opgeslagen of verstuurd."""
    outcome = run_check(file, dataset, organisation, parse_today(today))
    emit(outcome.report, fmt, output, file)
    skipped = [] if organisation is not None else rules_needing_organisation(dataset)
    if skipped:
        console(stderr=True).print(
            "Let op: zonder --organisation is niet gecontroleerd of de AGB-code in het bestand "
            f"die van uw organisatie is ({', '.join(skipped)}).",
            highlight=False,
            soft_wrap=True,
        )
    raise typer.Exit(EXIT_FILE_REJECTED if outcome.report.file_rejected else EXIT_OK)


def check_demo(
    rows: Annotated[int, typer.Option(help="Aantal procedures in het demobestand.")] = 20_000,
    error_rate: Annotated[
        float, typer.Option(help="Aandeel records met een ingebouwde fout.")
    ] = 0.01,
) -> None:
    """Maak een demobestand (nhr-pmicd, synthetisch) en controleer het."""
    from zorgbroker.intake.generate import generate
    from zorgbroker.intake.report.text_report import render_text
    from zorgbroker.settings import get_settings

    folder = get_settings().home / "demo"
    folder.mkdir(parents=True, exist_ok=True)
    made = generate(
        "nhr-pmicd", rows=rows, out=folder / "demo-nhr-pmicd.csv", error_rate=error_rate, seed=2026
    )
    console(stderr=True).print(
        f"Demobestand met {made.rows} synthetische procedures: {made.path}", highlight=False
    )
    outcome = run_check(made.path, "nhr-pmicd", made.organisation, None)
    render_text(outcome.report, console(), max_messages=25)
    console().print(
        "\nHet volledige rapport als Excel-werkboek:\n"
        f"  zorgbroker check {made.path} --dataset nhr-pmicd "
        f"--organisation {made.organisation} --format xlsx --output rapport.xlsx",
        highlight=False,
        soft_wrap=True,
    )
