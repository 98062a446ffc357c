"""`zorgbroker init` and `devices`: the registry on the command line. (Uploads have
their own commands, in `zorgbroker.uploads.cli`.)"""

from __future__ import annotations

import json
import sys
from enum import StrEnum
from typing import Annotated

import polars as pl
import typer
from rich.console import Console
from rich.table import Table
from rich.text import Text
from sqlalchemy import Engine

from zorgbroker.cli.common import fail, fail_usage
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
        raise fail(exc.message) from None


def init_command() -> None:
    """Maak de registratiedatabase aan op het ingestelde adres, of breng een bestaande bij."""
    from zorgbroker.composition import init_registry
    from zorgbroker.registry.registry_db import RegistryUnavailable

    settings = get_settings()
    try:
        engine = init_registry(settings)
    except RegistryUnavailable as exc:
        raise fail(exc.message) from None
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
