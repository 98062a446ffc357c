"""`zorgbroker worker`."""

from __future__ import annotations

import logging
import os
from typing import Annotated

import typer
from rich.console import Console

from zorgbroker.cli.common import EXIT_FAILED, fail_usage
from zorgbroker.settings import get_settings


def worker_command(
    concurrency: Annotated[
        int,
        typer.Option(
            "--concurrency",
            "-c",
            min=1,
            help="Aantal aanleveringen dat deze worker tegelijk verwerkt.",
        ),
    ] = 1,
    until_empty: Annotated[
        bool,
        typer.Option(
            "--until-empty", help="Stop zodra de wachtrij leeg is (bijvoorbeeld uit cron)."
        ),
    ] = False,
) -> None:
    """Verwerk aanleveringen uit de wachtrij op PostgreSQL; stoppen met Ctrl-C."""
    from procrastinate.exceptions import ConnectorException
    from psycopg import OperationalError
    from rich.text import Text

    from zorgbroker.composition import upload_job
    from zorgbroker.jobs.config import JobsConfigError, QueueSchemaError, conninfo
    from zorgbroker.jobs.worker import run_worker

    settings = get_settings()
    try:
        conninfo(settings)
    except JobsConfigError as exc:
        raise fail_usage(exc.message) from None
    err = Console(stderr=True)
    if settings.jobs != "procrastinate":
        err.print(
            "Let op: ZORGBROKER_JOBS staat niet op 'procrastinate'; 'zorgbroker submit' zet dan "
            "niets in de wachtrij.",
            highlight=False,
        )
    # Procrastinate reports through the standard logging module; only ids go in its records.
    level = (os.environ.get("ZORGBROKER_LOG_LEVEL") or "WARNING").upper()
    logging.basicConfig(level=logging.getLevelNamesMapping().get(level, logging.WARNING))
    err.print(f"Worker gestart ({concurrency} tegelijk); stoppen met Ctrl-C.", highlight=False)
    try:
        run_worker(
            settings, job=upload_job(settings), concurrency=concurrency, until_empty=until_empty
        )
    except (OperationalError, ConnectorException) as exc:
        err.print(
            f"[bold red]Fout:[/] de database is niet bereikbaar ({type(exc).__name__}).",
            highlight=False,
        )
        raise typer.Exit(EXIT_FAILED) from None
    except QueueSchemaError as exc:
        err.print(Text(f"Fout: {exc.message}", style="bold red"))
        raise typer.Exit(EXIT_FAILED) from None
    err.print("Worker gestopt.", highlight=False)
