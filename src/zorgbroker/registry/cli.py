"""`zorgbroker init`, `devices` and `segments`: the registry on the command line. (Uploads have
their own commands, in `zorgbroker.uploads.cli`.)"""

from __future__ import annotations

import json
import sys
from enum import StrEnum
from functools import partial
from typing import Annotated

import polars as pl
import typer
from rich.console import Console
from rich.table import Table
from rich.text import Text
from sqlalchemy import Engine

from zorgbroker.cli.common import EXIT_FAILED, fail_usage
from zorgbroker.intake.api import approximate_size, format_count
from zorgbroker.settings import Settings, get_settings


class ListFormat(StrEnum):
    text = "text"
    json = "json"


#: Lists are printed at least this wide: a narrow terminal wraps lines, rather than squeezing
#: a pseudonym or a date into unreadable columns.
WIDE = 140


def registry_engine(settings: Settings) -> Engine:
    """The registry's engine from the composition root; a Dutch error when it cannot be used
    (exit 3 when unreachable, 2 when a configured SQLite file does not exist)."""
    from zorgbroker.composition import open_registry
    from zorgbroker.registry.registry_db import RegistryMissing, RegistryUnavailable

    try:
        return open_registry(settings)
    except RegistryMissing as exc:
        raise fail_usage(exc.message) from None
    except RegistryUnavailable as exc:
        Console(stderr=True).print(Text(f"Fout: {exc.message}", style="bold red"))
        raise typer.Exit(EXIT_FAILED) from None


def init_command() -> None:
    """Maak de registratiedatabase aan op het ingestelde adres, of breng een bestaande bij."""
    from zorgbroker.composition import init_registry
    from zorgbroker.registry.registry_db import RegistryUnavailable

    settings = get_settings()
    try:
        engine = init_registry(settings)
    except RegistryUnavailable as exc:
        Console(stderr=True).print(Text(f"Fout: {exc.message}", style="bold red"))
        raise typer.Exit(EXIT_FAILED) from None
    where = engine.url.render_as_string(hide_password=True)
    Console().print(f"Registratiedatabase klaar: {where}", highlight=False, soft_wrap=True)


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
    settings = get_settings()
    carriers = find_carriers(
        registry_engine(settings),
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
    settings = get_settings()
    engine = registry_engine(settings)
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
