"""`zorgbroker submit`, `uploads`, `report`, `devices` and `segments`: the registry on the command
line."""

from __future__ import annotations

import json
import sys
from enum import StrEnum
from functools import partial
from pathlib import Path
from typing import Annotated

import polars as pl
import typer
from rich import box
from rich.console import Console
from rich.table import Table
from rich.text import Text

from zorgbroker.intake.api import MODE_LABELS, approximate_size, format_count
from zorgbroker.intake.cli import (
    EXIT_FILE_REJECTED,
    EXIT_OK,
    DatasetOption,
    Format,
    FormatOption,
    OutputOption,
    TodayOption,
    emit,
    fail_usage,
    parse_today,
)
from zorgbroker.registry.models import FAILED
from zorgbroker.registry.registry_db import RegistryUnavailable, open_registry
from zorgbroker.registry.uploads import (
    UploadError,
    UploadInfo,
    list_uploads,
    load_report,
    submit_upload,
)
from zorgbroker.settings import Settings, get_settings

#: The upload could not be processed (a failure on the registry's side; it can be retried).
EXIT_FAILED = 3


class SubmitMode(StrEnum):
    test = "test"
    production = "production"


class ListFormat(StrEnum):
    text = "text"
    json = "json"


#: Lists are printed at least this wide: a narrow terminal wraps lines, rather than squeezing
#: a pseudonym or a date into unreadable columns.
WIDE = 140

_STATUS = {"queued": "in wachtrij", "processing": "bezig", "done": "verwerkt", "failed": "mislukt"}


def registry_settings() -> Settings:
    """The settings, once the registry's database has been reached (else a Dutch error, exit 3)."""
    settings = get_settings()
    try:
        open_registry(settings)
    except RegistryUnavailable as exc:
        Console(stderr=True).print(Text(f"Fout: {exc.message}", style="bold red"))
        raise typer.Exit(EXIT_FAILED) from None
    return settings


def submit_command(
    file: Annotated[Path, typer.Argument(help="Het bestand (CSV, XLSX of ZIP) om aan te leveren.")],
    dataset: DatasetOption,
    organisation: Annotated[
        str, typer.Option("--organisation", "-o", help="AGB-code van de aanleverende organisatie.")
    ],
    mode: Annotated[
        SubmitMode,
        typer.Option(
            "--mode", "-m", help="test: alleen controleren; production: ook vergelijken en opslaan."
        ),
    ],
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
) -> None:
    """Lever een bestand aan: pseudonimisering, controle, en in productie vergelijking en opslag."""
    from zorgbroker.jobs import (
        JobsConfigError,
        QueueUnavailable,
        check_settings,
        dispatch,
        processes_in_background,
        wait_for_upload,
    )

    settings = registry_settings()
    try:
        check_settings(settings)
    except JobsConfigError as exc:
        raise fail_usage(exc.message) from None
    queued = processes_in_background(settings)
    if not wait and not queued:
        raise fail_usage(
            "--no-wait kan alleen met een wachtrij (ZORGBROKER_JOBS=procrastinate); "
            "zonder wachtrij wordt de aanlevering meteen hier verwerkt"
        )
    try:
        upload_id = submit_upload(
            file,
            dataset=dataset,
            organisation=organisation,
            mode=mode.value,  # type: ignore[arg-type]
            settings=settings,
            today=parse_today(today),
        )
    except UploadError as exc:
        raise fail_usage(exc.message) from None
    err = Console(stderr=True)
    try:
        dispatch(upload_id, settings=settings)
    except QueueUnavailable as exc:
        err.print(Text(f"Fout: {exc.message}", style="bold red"))
        raise typer.Exit(EXIT_FAILED) from None
    if queued:
        err.print(f"Aanlevering {upload_id} staat in de wachtrij.", highlight=False)
    if not wait:
        print(upload_id)
        raise typer.Exit(EXIT_OK)
    if queued:
        err.print("Wachten op een worker ('zorgbroker worker'); Ctrl-C stopt het wachten.")
    info = wait_for_upload(upload_id, settings=settings)
    if info.status == FAILED:
        err.print(Text(f"Aanlevering {upload_id} is niet verwerkt: {info.error}", style="bold red"))
        raise typer.Exit(EXIT_FAILED)
    report = load_report(settings, upload_id)
    err.print(f"Aanlevering {upload_id} verwerkt.", highlight=False)
    emit(report, fmt, output, file)
    raise typer.Exit(EXIT_FILE_REJECTED if report.file_rejected else EXIT_OK)


def _count(value: int | None) -> str:
    return "" if value is None else format_count(value)


def _uploads_table(uploads: list[UploadInfo]) -> Table:
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
            _STATUS.get(u.status, u.status),
            _count(u.records),
            _count(u.rejected),
            _count(u.accepted),
        )
    return table


def uploads_command(
    organisation: Annotated[
        str | None, typer.Option("--organisation", "-o", help="Alleen van deze AGB-code.")
    ] = None,
    fmt: Annotated[ListFormat, typer.Option("--format", "-f", help="Vorm van de lijst.")] = (
        ListFormat.text
    ),
) -> None:
    """Toon eerdere aanleveringen, nieuwste eerst."""
    uploads = list_uploads(registry_settings(), organisation=organisation)
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
    """Toon het rapport van een eerdere aanlevering opnieuw."""
    try:
        report = load_report(registry_settings(), upload_id)
    except UploadError as exc:
        raise fail_usage(exc.message) from None
    emit(report, fmt, output, Path(f"aanlevering-{upload_id}"))
    raise typer.Exit(EXIT_FILE_REJECTED if report.file_rejected else EXIT_OK)


def devices_command(
    udi_di: Annotated[
        str | None,
        typer.Option(
            "--udi-di",
            help=(
                "UDI-DI van het devicemodel: GTIN van 8 tot 14 cijfers, of de gescande UDI "
                "((01)…(21)…; het serienummer daarin telt dan ook mee)."
            ),
        ),
    ] = None,
    serial: Annotated[
        str | None, typer.Option("--serial", help="Serienummer van een generator of lead.")
    ] = None,
    on_behalf_of: Annotated[
        str,
        typer.Option(
            "--on-behalf-of", help="Namens wie de opvraging gebeurt (komt in het toegangslog)."
        ),
    ] = "register",
    fmt: Annotated[ListFormat, typer.Option("--format", "-f", help="Vorm van de lijst.")] = (
        ListFormat.text
    ),
) -> None:
    """Welke pseudoniemen en centra dragen dit device nu? (Geëxplanteerde niet.) Wordt gelogd."""
    from zorgbroker.registry.device_query import DeviceQueryError, parse_device_query
    from zorgbroker.registry.devices import find_carriers

    if udi_di is None and serial is None:
        raise fail_usage("geef --udi-di of --serial")
    try:
        query = parse_device_query(udi_di, serial)
    except DeviceQueryError as exc:
        raise fail_usage(str(exc)) from None
    settings = registry_settings()
    carriers = find_carriers(
        settings,
        query,
        actor=settings.actor,
        on_behalf_of=on_behalf_of,
    )
    if fmt is ListFormat.json:
        out = carriers.with_columns(pl.col("since").dt.to_string("%Y-%m-%d"))
        json.dump(out.to_dicts(), sys.stdout, ensure_ascii=False, indent=1)
        sys.stdout.write("\n")
        return
    if carriers.height == 0:
        Console().print("Niemand draagt dit device volgens de registratie.")
        return
    table = Table(title="Dragers van het device")
    for header in ("dataset", "pseudoniem", "centrum", "serienummer", "veld", "UDI-DI", "sinds"):
        table.add_column(header)
    for row in carriers.iter_rows():
        dataset, pseudonym, centre, serial_no, field_name, model, since = row
        table.add_row(
            dataset,
            pseudonym,
            centre or "",
            Text(serial_no),
            field_name,
            model or "",
            since.strftime("%d-%m-%Y") if since else "",
        )
    Console(width=max(Console().width, WIDE)).print(table)


def segments_command(
    dataset: Annotated[
        str | None,
        typer.Option("--dataset", "-d", help="Alleen deze dataset, zie 'zorgbroker datasets'."),
    ] = None,
    merge: Annotated[
        bool,
        typer.Option(
            "--merge",
            help="Voeg de segmenten van elke tabel samen tot één (leest en schrijft alle rijen; "
            "aanleveringen van de dataset wachten zolang).",
        ),
    ] = False,
    min_segments: Annotated[
        int,
        typer.Option(
            "--min-segments",
            min=2,
            help="Met --merge: voeg alleen de tabellen samen waarin minstens zoveel segmenten "
            "rijen hebben (bijvoorbeeld vanuit cron).",
        ),
    ] = 2,
    fmt: Annotated[
        ListFormat, typer.Option("--format", "-f", help="Vorm van de lijst of de uitkomst.")
    ] = ListFormat.text,
) -> None:
    """Toon de segmenten van de tabellen (PostgreSQL), of voeg ze samen met --merge."""
    from zorgbroker.registry.segments import worth_merging
    from zorgbroker.registry.upkeep import known_datasets, merge_dataset, overview

    # A sentence with a table name and a command in it is not wrapped at 80 columns.
    say = partial(Console(soft_wrap=True).print, highlight=False)

    datasets = known_datasets()
    if dataset is not None:
        if dataset not in datasets:
            raise fail_usage(f"onbekende dataset {dataset!r}; zie 'zorgbroker datasets'")
        datasets = [dataset]
    settings = registry_settings()
    engine = open_registry(settings)
    if engine.dialect.name != "postgresql":
        say(
            "Deze registratie gebruikt SQLite: daar hebben tabellen geen segmenten "
            "(die zijn er alleen op PostgreSQL)."
        )
        return
    if merge:
        merged_json = []
        for name in datasets:
            with Console(stderr=True).status(f"{name}: segmenten samenvoegen …"):
                done = merge_dataset(engine, name, actor=settings.actor, min_holding=min_segments)
            merged_json += [
                {"dataset": name, "table": m.table, "segments": m.holding,
                 "into": m.into, "rows": m.rows, "seconds": round(done.seconds, 3)}
                for m in done.tables
            ]  # fmt: skip
            if fmt is ListFormat.json:
                continue
            if not done.tables:
                say(f"{name}: niets samen te voegen.")
                continue
            seconds = f"{done.seconds:.1f}".replace(".", ",")
            for merged in done.tables:
                counted = "1 segment" if merged.holding == 1 else f"{merged.holding} segmenten"
                say(
                    f"{name}: {merged.table}: {counted} met rijen samengevoegd tot "
                    f"{merged.into} ({format_count(merged.rows)} rijen)"
                )
            say(f"{name}: klaar in {seconds} s.")
        if fmt is ListFormat.json:
            json.dump(merged_json, sys.stdout, ensure_ascii=False, indent=1)
            sys.stdout.write("\n")
        return
    tables = overview(engine, datasets)
    if fmt is ListFormat.json:
        listed = [
            {
                "dataset": t.dataset,
                "table": t.table,
                "segments": [
                    {"number": s.number, "name": s.name, "rows": s.rows, "bytes": s.size_bytes}
                    for s in t.segments
                ],
            }
            for t in tables
        ]
        json.dump(listed, sys.stdout, ensure_ascii=False, indent=1)
        sys.stdout.write("\n")
        return
    table = Table(title="Segmenten van de tabellen")
    for header in ("dataset", "tabel", "segment", "rijen", "omvang"):
        table.add_column(header, justify="right" if header in ("rijen", "omvang") else "left")
    for t in tables:
        for s in t.segments:
            table.add_row(t.dataset, t.table, str(s.number), format_count(s.rows),
                          approximate_size(s.size_bytes))  # fmt: skip
    Console(width=max(Console().width, WIDE)).print(table)
    for name in dict.fromkeys(t.dataset for t in tables if worth_merging(t.segments)):
        say(
            f"{name}: elke opzoeking doorzoekt alle segmenten met rijen. Samenvoegen: "
            f"zorgbroker segments --dataset {name} --merge"
        )
