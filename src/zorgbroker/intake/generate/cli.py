"""`zorgbroker generate`: write a synthetic file of one of the datasets."""

from __future__ import annotations

import datetime
from pathlib import Path
from typing import Annotated

import typer

from zorgbroker.cli.common import counted, fail_usage
from zorgbroker.intake.generate.api import DATASETS, check_arguments, default_output, generate
from zorgbroker.intake.generate.model import expected_path
from zorgbroker.intake.generate.workbook import SheetTooLong

_DATASET_HELP = "Dataset: " + ", ".join(DATASETS) + "."


def _target(dataset: str, rows: int, output: Path | None) -> Path:
    if output is None:
        return default_output(dataset, rows)
    if output.is_dir():
        return output / default_output(dataset, rows)
    return output


def _day(text: str | None) -> datetime.date | None:
    if text is None:
        return None
    try:
        return datetime.date.fromisoformat(text)
    except ValueError:
        raise fail_usage(
            "--today moet de vorm JJJJ-MM-DD hebben, bijvoorbeeld 2026-03-15."
        ) from None


def generate_command(
    dataset: Annotated[str, typer.Argument(help=_DATASET_HELP, show_default=False)],
    rows: Annotated[
        int,
        typer.Option(
            "--rows",
            help=(
                "Aantal records: verrichtingen (nhr-pmicd), episodes (nivel-fysio) of "
                "kwartalen (parabench-mi, hooguit 4)."
            ),
        ),
    ],
    error_rate: Annotated[
        float,
        typer.Option(
            "--error-rate",
            help="Deel van de records dat precies één ingebouwde fout krijgt (0 = foutloos).",
        ),
    ] = 0.0,
    seed: Annotated[
        int,
        typer.Option("--seed", help="Startwaarde: dezelfde seed geeft hetzelfde bestand."),
    ] = 0,
    output: Annotated[
        Path | None,
        typer.Option(
            "--output",
            "-o",
            help=(
                "Pad van het bestand (of een map); standaard DATASET-RIJEN.csv/.zip hier. "
                "Eindigt het pad op .xlsx, dan komt er een Excel-werkmap met één werkblad per "
                "tabel."
            ),
        ),
    ] = None,
    organisation: Annotated[
        str | None,
        typer.Option(
            "--organisation",
            help="AGB-code (8 cijfers) van de aanleverende organisatie in het bestand.",
        ),
    ] = None,
    expected: Annotated[
        bool,
        typer.Option(
            "--expected",
            help="Schrijf ook BESTAND.expected.json met de meldingen die de controle moet geven.",
        ),
    ] = False,
    today: Annotated[
        str | None,
        typer.Option(
            "--today",
            help="Doe alsof het vandaag deze datum is (JJJJ-MM-DD); standaard de echte datum.",
        ),
    ] = None,
) -> None:
    """Maak een synthetisch bestand voor een dataset, foutloos of met ingebouwde fouten."""
    day = _day(today)
    try:
        check_arguments(dataset, rows, error_rate, seed, organisation)
    except ValueError as exc:
        raise fail_usage(str(exc)) from None
    target = _target(dataset, rows, output)
    try:
        result = generate(
            dataset,
            rows=rows,
            out=target,
            error_rate=error_rate,
            seed=seed,
            organisation=organisation,
            today=day,
            write_expected=expected,
        )
    except SheetTooLong as exc:
        raise fail_usage(str(exc)) from None
    except OSError as exc:
        typer.echo(f"Fout: kan {target} niet schrijven ({exc.strerror or exc}).", err=True)
        raise typer.Exit(1) from None
    if result.rows < rows:
        typer.echo(
            f"Let op: --rows {rows} is meer dan een {dataset}-bestand kan bevatten; "
            f"er zijn {counted(result.rows, 'record', 'records')} geschreven.",
            err=True,
        )
    records = counted(result.rows, "record", "records")
    messages = counted(len(result.expected), "verwachte melding", "verwachte meldingen")
    typer.echo(
        f"Geschreven: {result.path} ({records}, organisatie {result.organisation}, {messages})"
    )
    if expected:
        typer.echo(f"Verwachte meldingen: {expected_path(result.path)}")
