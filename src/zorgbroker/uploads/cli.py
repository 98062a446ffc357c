"""`zorgbroker submit`, `uploads` and `report`: a few lines of glue each around the upload
service, which `zorgbroker.composition` builds from the settings.

Exit statuses: 0 done, 1 file rejected, 2 usage error (also a setting that cannot be used),
3 the upload failed or was stopped, or the registry's database is unreachable,
4 (`report`) the upload is not finished yet, 130 stopped with Ctrl-C.
"""

from __future__ import annotations

import json
import sys
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.text import Text

from zorgbroker.cli.common import (
    EXIT_FAILED,
    EXIT_FILE_REJECTED,
    EXIT_OK,
    DatasetOption,
    Format,
    FormatOption,
    OutputOption,
    TodayOption,
    emit,
    fail,
    fail_usage,
    parse_today,
)
from zorgbroker.settings import get_settings

if TYPE_CHECKING:
    from zorgbroker.uploads.history import UploadHistory
    from zorgbroker.uploads.models import UploadInfo
    from zorgbroker.uploads.service import UploadService

#: `report`: the upload is still queued or being processed; ask again later.
EXIT_NOT_FINISHED = 4
#: Stopped with Ctrl-C (the shells' 128 + SIGINT).
EXIT_INTERRUPTED = 130

#: Lists are printed at least this wide: a narrow terminal wraps lines, rather than squeezing
#: a pseudonym or a date into unreadable columns.
WIDE = 140


class SubmitMode(StrEnum):
    test = "test"
    production = "production"


class ListFormat(StrEnum):
    text = "text"
    json = "json"


def service() -> UploadService:
    """The installation's upload service; a Dutch error when its database cannot be used."""
    from zorgbroker.composition import upload_service
    from zorgbroker.jobs.config import JobsConfigError
    from zorgbroker.registry.registry_db import RegistryMissing, RegistryUnavailable

    try:
        return upload_service(get_settings())
    except RegistryUnavailable as exc:
        raise fail(exc.message) from None
    except (RegistryMissing, JobsConfigError) as exc:
        raise fail_usage(exc.message) from None


def history() -> UploadHistory:
    """The installation's upload history, opened for reading; a Dutch error as `service`."""
    from zorgbroker.composition import upload_history
    from zorgbroker.registry.registry_db import RegistryMissing, RegistryUnavailable

    try:
        return upload_history(get_settings())
    except RegistryUnavailable as exc:
        raise fail(exc.message) from None
    except RegistryMissing as exc:
        raise fail_usage(exc.message) from None


def submit_command(
    file: Annotated[Path, typer.Argument(help="Het bestand (CSV, XLSX of ZIP) om aan te leveren.")],
    dataset: DatasetOption,
    mode: Annotated[
        SubmitMode,
        typer.Option(
            "--mode", "-m", help="test: alleen controleren; production: ook vergelijken en opslaan."
        ),
    ],
    organisation: Annotated[
        str | None,
        typer.Option(
            "--organisation",
            help="AGB-code van de aanleverende organisatie (met --portal: die van de API-sleutel).",
        ),
    ] = None,
    fmt: FormatOption = Format.text,
    output: OutputOption = None,
    today: TodayOption = None,
    wait: Annotated[
        bool,
        typer.Option(
            "--wait/--no-wait",
            help="Wacht op de verwerking en toon het rapport; met --no-wait (alleen met een "
            "wachtrij) alleen het nummer van de aanlevering.",
        ),
    ] = True,
    portal: Annotated[
        str | None,
        typer.Option(
            "--portal",
            help="Lever aan bij dit portaal (https://portaal.example.nl) via de API, met een "
            "API-sleutel uit --token-file of ZORGBROKER_API_TOKEN.",
        ),
    ] = None,
    token_file: Annotated[
        Path | None,
        typer.Option("--token-file", help="Bestand met de API-sleutel (met --portal)."),
    ] = None,
) -> None:
    """Lever een bestand aan: pseudonimisering, controle, en in productie vergelijking en opslag."""
    if portal is not None:
        raise typer.Exit(
            submit_to_portal(
                file, dataset=dataset, organisation=organisation, mode=mode.value,
                fmt=fmt, output=output, today=today, portal=portal, token_file=token_file,
            )
        )  # fmt: skip
    if token_file is not None:
        raise fail_usage("--token-file hoort bij --portal")
    if organisation is None:
        raise fail_usage("geef --organisation (de AGB-code van de aanleverende organisatie)")
    from zorgbroker.jobs.config import QueueUnavailable
    from zorgbroker.uploads.errors import UploadError, UploadInterrupted
    from zorgbroker.uploads.models import DONE
    from zorgbroker.uploads.source import stage1_file

    uploads = service()
    queued = uploads.processes_in_background
    if not wait and not queued:
        raise fail_usage(
            "--no-wait kan alleen met een wachtrij (ZORGBROKER_JOBS=procrastinate); "
            "zonder wachtrij wordt de aanlevering meteen hier verwerkt"
        )
    err = Console(stderr=True)
    settings = get_settings()
    reference = parse_today(today)
    try:
        # The service is handed only the stage-1 file, made here at the source; its folder is
        # removed on every way out, Ctrl-C included.
        with stage1_file(
            file,
            dataset=dataset,
            organisation=organisation,
            mode=mode.value,  # type: ignore[arg-type]
            home=settings.home,
            today=reference,
        ) as stage1:
            upload_id = uploads.submit(
                stage1,
                dataset=dataset,
                organisation=organisation,
                mode=mode.value,  # type: ignore[arg-type]
                uploaded_by=settings.actor,
                today=reference,
            )
    except UploadError as exc:
        raise fail_usage(exc.message) from None
    except QueueUnavailable as exc:
        raise fail(exc.message) from None
    except UploadInterrupted as stopped:
        err.print(
            f"Aanlevering {stopped.upload_id} is gestopt (Ctrl-C); er is niets opgeslagen. "
            "Lever het bestand opnieuw aan met hetzelfde commando om het alsnog te verwerken.",
            highlight=False,
        )
        raise typer.Exit(EXIT_INTERRUPTED) from None
    except KeyboardInterrupt:
        err.print(
            "Gestopt (Ctrl-C) terwijl het stap-1-bestand werd gemaakt; er is niets verstuurd of "
            "opgeslagen. Lever het bestand opnieuw aan met hetzelfde commando.",
            highlight=False,
        )
        raise typer.Exit(EXIT_INTERRUPTED) from None
    if queued:
        err.print(f"Aanlevering {upload_id} staat in de wachtrij.", highlight=False)
    if not wait:
        print(upload_id)
        raise typer.Exit(EXIT_OK)
    if queued:
        err.print("Wachten op een worker ('zorgbroker worker'); Ctrl-C stopt het wachten.")
    try:
        info = uploads.wait(upload_id)
    except KeyboardInterrupt:
        err.print(
            f"Het wachten is gestopt; aanlevering {upload_id} blijft in de wachtrij en wordt "
            f"verwerkt. Het rapport later: zorgbroker report {upload_id}",
            highlight=False,
        )
        raise typer.Exit(EXIT_INTERRUPTED) from None
    if info.status != DONE:
        raise fail(f"Aanlevering {upload_id} is niet verwerkt: {info.error}")
    report = uploads.report(upload_id)
    err.print(f"Aanlevering {upload_id} verwerkt.", highlight=False)
    emit(report, fmt, output, file)
    raise typer.Exit(EXIT_FILE_REJECTED if report.file_rejected else EXIT_OK)


def submit_to_portal(
    file: Path,
    *,
    dataset: str,
    organisation: str | None,
    mode: str,
    fmt: Format,
    output: Path | None,
    today: str | None,
    portal: str,
    token_file: Path | None,
) -> int:
    """`submit --portal`: the stage-1 file is made here, at the source, as without --portal;
    then it goes to the portal's API, and the report comes back from it. The exit status."""
    import os

    from zorgbroker.uploads.errors import UploadError
    from zorgbroker.uploads.history import report_from_document
    from zorgbroker.uploads.portal_client import PortalClient, PortalError, read_token
    from zorgbroker.uploads.source import stage1_file

    err = Console(stderr=True)
    settings = get_settings()
    reference = parse_today(today)
    upload_id = None
    try:
        token = read_token(token_file, os.environ.get("ZORGBROKER_API_TOKEN"))
        with PortalClient(portal, token) as client:
            agb = client.me().get("organisation_agb")
            if not agb:
                raise PortalError("de organisatie van deze API-sleutel heeft geen AGB-code", 2)
            if organisation is not None and organisation != agb:
                raise PortalError(
                    f"--organisation {organisation} is niet de organisatie van de API-sleutel "
                    f"({agb})",
                    2,
                )
            with stage1_file(
                file, dataset=dataset, organisation=agb, mode=mode,  # type: ignore[arg-type]
                home=settings.home, today=reference,
            ) as stage1:  # fmt: skip
                upload_id = client.submit(stage1, dataset=dataset, mode=mode)
            err.print(
                f"Aanlevering {upload_id} is ontvangen door {portal}; wachten op de verwerking "
                "(Ctrl-C stopt het wachten).",
                highlight=False,
            )
            status = client.wait(upload_id)
            if status["status"] != "done":
                raise PortalError(f"Aanlevering {upload_id} is niet verwerkt: {status['error']}")
            document = client.report(upload_id)
    except UploadError as exc:
        raise fail_usage(exc.message) from None
    except PortalError as exc:
        raise fail(exc.message, exc.exit_status) from None
    except KeyboardInterrupt:
        if upload_id is None:
            message = (
                "Gestopt (Ctrl-C) voordat het portaal het bestand had; er is niets opgeslagen. "
                "Lever het bestand opnieuw aan met hetzelfde commando."
            )
        else:
            message = (
                f"Het wachten is gestopt; aanlevering {upload_id} wordt op het portaal verwerkt. "
                "Het rapport staat daarna in het portaal."
            )
        err.print(message, highlight=False)
        return EXIT_INTERRUPTED
    report = report_from_document(document, dataset)
    err.print(f"Aanlevering {upload_id} verwerkt.", highlight=False)
    emit(report, fmt, output, file)
    return EXIT_FILE_REJECTED if report.file_rejected else EXIT_OK


def _uploads_table(uploads: list[UploadInfo]) -> object:
    from rich import box
    from rich.table import Table

    from zorgbroker.intake.api import MODE_LABELS, format_count
    from zorgbroker.uploads.models import STATUS_LABELS

    def count(value: int | None) -> str:
        return "" if value is None else format_count(value)

    table = Table(title="Aanleveringen", box=box.SIMPLE_HEAD, pad_edge=False)
    for header in ("nr", "datum", "organisatie", "dataset", "bestand", "modus", "status"):
        table.add_column(header, overflow="fold")
    for header in ("records", "afgewezen", "geaccepteerd"):
        table.add_column(header, justify="right")
    for u in uploads:
        table.add_row(
            str(u.id),
            u.submitted_at.astimezone().strftime("%d-%m-%Y %H:%M"),
            u.organisation,
            Text(u.dataset),
            Text(u.file_name),
            MODE_LABELS.get(u.mode, u.mode),
            STATUS_LABELS.get(u.status, u.status),
            count(u.records),
            count(u.rejected),
            count(u.accepted),
        )
    return table


def uploads_command(
    organisation: Annotated[
        str | None, typer.Option("--organisation", help="Alleen van deze AGB-code.")
    ] = None,
    fmt: Annotated[ListFormat, typer.Option("--format", "-f", help="Vorm van de lijst.")] = (
        ListFormat.text
    ),
) -> None:
    """Toon eerdere aanleveringen, nieuwste eerst."""
    uploads = history().list(organisation=organisation)
    if fmt is ListFormat.json:
        json.dump([u.as_json() for u in uploads], sys.stdout, ensure_ascii=False, indent=1)
        sys.stdout.write("\n")
        return
    if not uploads:
        Console().print("Nog geen aanleveringen.")
        return
    Console(width=max(Console().width, WIDE)).print(_uploads_table(uploads))


def report_command(
    upload_id: Annotated[int, typer.Argument(help="Nummer van de aanlevering, zie 'uploads'.")],
    fmt: FormatOption = Format.text,
    output: OutputOption = None,
) -> None:
    """Toon het rapport van een eerdere aanlevering opnieuw.

    Afsluitstatus 4: de aanlevering is nog niet klaar; 3: ze is mislukt of gestopt."""
    from zorgbroker.uploads.errors import NoReport, UploadNotFound
    from zorgbroker.uploads.models import IN_FLIGHT

    try:
        report = history().report(upload_id)
    except UploadNotFound as exc:
        raise fail_usage(exc.message) from None
    except NoReport as exc:
        raise fail(
            exc.message, EXIT_NOT_FINISHED if exc.status in IN_FLIGHT else EXIT_FAILED
        ) from None
    emit(report, fmt, output, Path(f"aanlevering-{upload_id}"))
    raise typer.Exit(EXIT_FILE_REJECTED if report.file_rejected else EXIT_OK)
