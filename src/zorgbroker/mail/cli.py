"""`zorgbroker mail`: the embedded mailbox, and sending the mail that waits in the outbox."""

from __future__ import annotations

from typing import Annotated

import typer
from rich import box
from rich.console import Console
from rich.table import Table
from rich.text import Text

from zorgbroker.cli.common import fail_usage
from zorgbroker.mail.mailbox import (
    attachment_names,
    list_mailbox,
    mail_files,
    read_message,
    text_body,
)
from zorgbroker.mail.outbox import pending, send_pending
from zorgbroker.mail.transport import uses_smtp
from zorgbroker.settings import get_settings

#: Some mail is still waiting after `--send-pending` (the server did not take it).
EXIT_PENDING = 1


def _list(console: Console) -> None:
    settings = get_settings()
    entries = list_mailbox(settings)
    if not entries:
        where = "de SMTP-server" if uses_smtp(settings) else settings.mailbox_dir
        console.print(f"Geen berichten in de lokale postbus (mail gaat naar {where}).")
    else:
        table = Table(title="Postbus", box=box.SIMPLE_HEAD, pad_edge=False)
        for header in ("nr", "datum", "aan", "onderwerp", "bijlage"):
            table.add_column(header, overflow="fold")
        for entry in reversed(entries):  # newest first, like a mail program
            when = entry.date.astimezone().strftime("%d-%m-%Y %H:%M") if entry.date else ""
            table.add_row(
                str(entry.number),
                when,
                Text(entry.to),
                Text(entry.subject),
                Text(", ".join(entry.attachments)),
            )
        # At least this wide: a narrow terminal wraps lines rather than squeezing subjects.
        Console(width=max(console.width, 140)).print(table)
    waiting = len(pending(settings))
    if waiting:
        console.print(
            f"{waiting} bericht(en) wachten op verzending; probeer opnieuw met "
            "'zorgbroker mail --send-pending'.",
            highlight=False,
        )


def _show(console: Console, number: int) -> None:
    files = mail_files(get_settings().mailbox_dir)
    if not 1 <= number <= len(files):
        raise fail_usage(f"bericht {number} bestaat niet; zie 'zorgbroker mail'")
    message = read_message(files[number - 1])
    for header in ("Date", "From", "To", "Subject"):
        label = {"Date": "Datum", "From": "Van", "To": "Aan", "Subject": "Onderwerp"}[header]
        console.print(Text(f"{label}: {message.get(header, '')}"))
    console.print()
    console.print(Text(text_body(message)), soft_wrap=True)
    names = attachment_names(message)
    if names:
        console.print(Text(f"Bijlagen: {', '.join(names)}"))


def mail_command(
    number: Annotated[
        int | None, typer.Argument(help="Toon dit bericht (nummer uit de lijst).")
    ] = None,
    send: Annotated[
        bool,
        typer.Option("--send-pending", help="Verstuur nu de berichten die nog wachten."),
    ] = False,
) -> None:
    """Toon de lokale postbus met meldingen over aanleveringen, of verstuur wachtende mail."""
    console = Console()
    if send:
        result = send_pending(get_settings())
        console.print(
            f"{result.sent} bericht(en) verstuurd, {result.left} wachten nog.", highlight=False
        )
        raise typer.Exit(EXIT_PENDING if result.left else 0)
    if number is None:
        _list(console)
    else:
        _show(console, number)
