"""`zorgbroker datasets`, `zorgbroker check` and `zorgbroker demo`."""

from __future__ import annotations

import datetime as dt
import sys
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

# The engine comes with the command, not when it runs: while the command is loaded, garbage
# collection is paused for the start-up (zorgbroker.cli.main).
from zorgbroker.intake.checks.context import CheckOutcome
from zorgbroker.intake.report.model import Report
from zorgbroker.intake.service import check_file
from zorgbroker.intake.spec import SpecError, available

# Rich is loaded by the output that draws with it: a JSON report draws nothing.
if TYPE_CHECKING:
    from rich.console import Console

#: Files smaller than this are checked too fast for a progress bar to be worth drawing.
PROGRESS_FROM_BYTES = 32 * 1024 * 1024

EXIT_OK, EXIT_FILE_REJECTED, EXIT_USAGE = 0, 1, 2


class Format(StrEnum):
    text = "text"
    json = "json"
    xlsx = "xlsx"


def console(*, stderr: bool = False) -> Console:
    from rich.console import Console

    return Console(stderr=stderr)


def fail_usage(message: str) -> typer.Exit:
    console(stderr=True).print(f"[bold red]Fout:[/] {message}", highlight=False)
    return typer.Exit(EXIT_USAGE)


def datasets_command() -> None:
    """Toon de datasetspecificaties die deze installatie kent."""
    from rich.table import Table

    table = Table("dataset", "versie", "omschrijving", title="Bekende datasets")
    for entry in available():
        table.add_row(entry.name, entry.version, entry.title)
    console().print(table)


def parse_today(value: str | None) -> dt.date | None:
    if value is None:
        return None
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise fail_usage(f"--peildatum '{value}' is geen datum JJJJ-MM-DD") from None


def run_check(
    file: Path, dataset: str, organisation: str | None, today: dt.date | None
) -> CheckOutcome:
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


def emit(report: Report, fmt: Format, output: Path | None, source: Path) -> None:
    match fmt:
        case Format.text:
            from rich.console import Console

            from zorgbroker.intake.report.text_report import render_text

            if output is None:
                render_text(report, Console())
            else:
                with output.open("w", encoding="utf-8") as handle:
                    render_text(report, Console(file=handle, width=120, force_terminal=False))
        case Format.json:
            from zorgbroker.intake.report.json_report import write_json

            if output is None:
                write_json(report, sys.stdout)
                sys.stdout.write("\n")
            else:
                write_json(report, output)
        case Format.xlsx:
            # XlsxWriter is only loaded when an Excel report is asked for.
            from zorgbroker.intake.report.xlsx_report import write_xlsx

            target = output or Path.cwd() / f"{source.stem}-rapport.xlsx"
            write_xlsx(report, target)
            console(stderr=True).print(f"Excel-rapport geschreven naar {target}", highlight=False)


#: Options shared by `check` and `submit`, declared once.
DatasetOption = Annotated[
    str, typer.Option("--dataset", "-d", help="Naam van de dataset, zie 'zorgbroker datasets'.")
]
FormatOption = Annotated[Format, typer.Option("--format", "-f", help="Vorm van het rapport.")]
OutputOption = Annotated[
    Path | None, typer.Option("--output", help="Schrijf het rapport naar dit bestand.")
]
TodayOption = Annotated[
    str | None,
    typer.Option(
        "--peildatum", help="Datum (JJJJ-MM-DD) waartegen termijnen gelden; standaard vandaag."
    ),
]


def check_command(
    file: Annotated[Path, typer.Argument(help="Het bestand (CSV, XLSX of ZIP) om te controleren.")],
    dataset: DatasetOption,
    organisation: Annotated[
        str | None,
        typer.Option("--organisation", "-o", help="AGB-code van de aanleverende organisatie."),
    ] = None,
    fmt: FormatOption = Format.text,
    output: OutputOption = None,
    today: TodayOption = None,
) -> None:
    """Controleer een bestand als testaanlevering: niets wordt opgeslagen of verstuurd."""
    outcome = run_check(file, dataset, organisation, parse_today(today))
    emit(outcome.report, fmt, output, file)
    raise typer.Exit(EXIT_FILE_REJECTED if outcome.report.file_rejected else EXIT_OK)


def demo_command(
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
