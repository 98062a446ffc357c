"""What the commands share: exit statuses, usage errors, report formats and common options.

Kept light (Typer only): every command imports it, and Rich is loaded by the output that draws.
"""

from __future__ import annotations

import datetime as dt
import sys
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

if TYPE_CHECKING:
    from rich.console import Console

    from zorgbroker.intake.api import Report

#: The command did what was asked.
EXIT_OK = 0
#: The file was checked and rejected (a file-level error); the report says why.
EXIT_FILE_REJECTED = 1
#: The command was called wrongly (an option, a file that is not there, a wrong setting).
EXIT_USAGE = 2
#: The work could not be done on the registry's side (database, queue, worker); it can be retried.
EXIT_FAILED = 3


class Format(StrEnum):
    """The forms of a check report."""

    text = "text"
    json = "json"
    xlsx = "xlsx"


def console(*, stderr: bool = False) -> Console:
    from rich.console import Console

    return Console(stderr=stderr)


def print_error(message: str) -> None:
    """Print 'Fout: message' on stderr.

    The message is printed as plain text: a file name or value with square brackets in it is
    shown as it is, not read as Rich markup, and a long one is not broken at 80 columns.
    """
    from rich.text import Text

    console(stderr=True).print(Text.assemble(("Fout:", "bold red"), " ", message), soft_wrap=True)


def fail(message: str, status: int = EXIT_FAILED) -> typer.Exit:
    """Print 'Fout: message' and return the exit to raise (status EXIT_FAILED unless given)."""
    print_error(message)
    return typer.Exit(status)


def fail_usage(message: str) -> typer.Exit:
    """Print a usage error in Dutch and return the exit to raise (status EXIT_USAGE)."""
    return fail(message, EXIT_USAGE)


def counted(number: int, one: str, many: str) -> str:
    """'1 record', '4 records': the number with the noun in the right form."""
    return f"{number} {one if number == 1 else many}"


def parse_today(value: str | None) -> dt.date | None:
    """The date of `--peildatum`, or None for today."""
    if value is None:
        return None
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise fail_usage(f"--peildatum '{value}' is geen datum JJJJ-MM-DD") from None


def emit(report: Report, fmt: Format, output: Path | None, source: Path) -> None:
    """Write a check report in the asked form, to `output` or the terminal."""
    match fmt:
        case Format.text:
            from rich.console import Console

            from zorgbroker.intake.api import render_text

            if output is None:
                render_text(report, Console())
            else:
                with output.open("w", encoding="utf-8") as handle:
                    render_text(report, Console(file=handle, width=120, force_terminal=False))
        case Format.json:
            from zorgbroker.intake.api import write_json

            if output is None:
                write_json(report, sys.stdout)
                sys.stdout.write("\n")
            else:
                write_json(report, output)
        case Format.xlsx:
            # XlsxWriter is only loaded when an Excel report is asked for.
            from zorgbroker.intake.api import write_xlsx

            target = output or Path.cwd() / f"{source.stem}-rapport.xlsx"
            write_xlsx(report, target)
            console(stderr=True).print(f"Excel-rapport geschreven naar {target}", highlight=False)


#: Options shared by `check` and `submit`, declared once.
DatasetOption = Annotated[
    str, typer.Option("--dataset", "-d", help="Naam van de dataset, zie 'zorgbroker datasets'.")
]
FormatOption = Annotated[Format, typer.Option("--format", "-f", help="Vorm van het rapport.")]
OutputOption = Annotated[
    Path | None, typer.Option("--output", "-o", help="Schrijf het rapport naar dit bestand.")
]
TodayOption = Annotated[
    str | None,
    typer.Option(
        "--peildatum", help="Datum (JJJJ-MM-DD) waartegen termijnen gelden; standaard vandaag."
    ),
]
