"""The report for a terminal: a Dutch summary, the codes found, then the first messages.

All file-derived text (file name, fields, values, messages) goes in as `rich.text.Text`, never as
markup, so a value like "[bold]" prints as sent instead of restyling the report.
"""

from __future__ import annotations

from rich import box
from rich.console import Console
from rich.table import Table
from rich.text import Text

from zorgbroker.intake.report.model import Report
from zorgbroker.intake.report.summary import (
    CLASS_LEGEND,
    FILE_REJECTED,
    MODE_LABELS,
    NO_MESSAGES,
    CodeRow,
    classes_present,
    code_rows,
    format_count,
    format_size,
)

_CLASS_STYLES = {
    "BF": "bold red",
    "BW": "yellow",
    "F": "red",
    "W": "yellow",
    "TF": "red",
    "TW": "yellow",
}
_VALUE_WIDTH = 40


def render_text(report: Report, console: Console, *, max_messages: int = 200) -> None:
    _render_header(report, console)
    rows = code_rows(report)
    if not rows:
        console.print()
        # A rejected file without a message should not happen, but must not read as "all fine".
        clean = Text("Geen meldingen.") if report.file_rejected else Text(NO_MESSAGES, "bold green")
        console.print(clean)
        return
    console.print()
    console.print(_code_table(rows))
    console.print(_legend(rows))
    console.print()
    console.print(_message_table(report, max_messages))
    hidden = report.messages.height - max_messages
    if hidden > 0:
        noun = "melding" if hidden == 1 else "meldingen"
        console.print(
            Text(
                f"… en nog {format_count(hidden)} {noun}; zie het JSON- of Excel-rapport.",
                style="italic",
            )
        )


def _render_header(report: Report, console: Console) -> None:
    title = Text.assemble(
        ("Kwaliteitsrapport ", "bold"),
        (f"{report.dataset} {report.dataset_version}", "bold cyan"),
    )
    console.print(title)
    facts = Table.grid(padding=(0, 2))
    facts.add_column(style="bold")
    facts.add_column()
    facts.add_row("Modus", Text(MODE_LABELS.get(report.mode, report.mode)))
    facts.add_row("Bestand", Text(report.file.name))
    facts.add_row("Grootte", Text(format_size(report.file.bytes)))
    encoding = f", tekenset {report.file.encoding}" if report.file.encoding else ""
    facts.add_row("Formaat", Text(f"{report.file.format}{encoding}"))
    facts.add_row("Records", Text(format_count(report.records)))
    facts.add_row("Geaccepteerd", Text(format_count(report.accepted), style="green"))
    rejected = report.records - report.accepted
    facts.add_row("Afgewezen", Text(format_count(rejected), style="red" if rejected else ""))
    if report.stored is not None:
        stored = report.stored
        facts.add_row(
            "Opgeslagen",
            Text(
                f"{format_count(stored.new)} nieuw, {format_count(stored.updated)} gewijzigd, "
                f"{format_count(stored.unchanged)} ongewijzigd"
            ),
        )
    keys = report.pseudonymisation
    if keys:
        facts.add_row(
            "Sleutels",
            Text(
                f"bron {keys.get('source_key', '?')}, register {keys.get('registry_key', '?')} "
                f"(versie {keys.get('registry_key_version', '?')}, {keys.get('method', '?')})"
            ),
        )
    console.print(facts)
    if report.file_rejected:
        console.print()
        console.print(
            Text(
                f" {FILE_REJECTED}: er is niets uit dit bestand verwerkt ",
                style="bold white on red",
            )
        )


def _code_table(rows: list[CodeRow]) -> Table:
    table = Table(title="Meldingen per code", title_justify="left", box=box.SIMPLE_HEAD)
    table.add_column("Code", no_wrap=True)
    table.add_column("Klasse", no_wrap=True)
    table.add_column("Aantal", justify="right", no_wrap=True)
    table.add_column("Uitleg")
    for row in rows:
        style = _CLASS_STYLES.get(row.klass, "")
        table.add_row(
            Text(row.code, style=style),
            Text(row.klass, style=style),
            Text(format_count(row.count)),
            Text(row.explanation),
        )
    return table


def _legend(rows: list[CodeRow]) -> Text:
    legend = Text("Klassen:", style="dim")
    for klass in classes_present(rows):
        legend.append("\n  ")
        legend.append(klass, style=_CLASS_STYLES.get(klass, ""))
        legend.append(f" = {CLASS_LEGEND[klass]}", style="dim")
    return legend


def _message_table(report: Report, max_messages: int) -> Table:
    shown = report.messages.head(max(max_messages, 0))
    title = f"Meldingen ({format_count(shown.height)} van {format_count(report.messages.height)})"
    table = Table(title=title, title_justify="left", box=box.SIMPLE_HEAD)
    columns = ["record", "field", "code", "value", "message"]
    if report.multi_table:
        table.add_column("Tabel", no_wrap=True)
        columns.insert(0, "table")
    table.add_column("Rij", justify="right", no_wrap=True)
    table.add_column("Veld")
    table.add_column("Code", no_wrap=True)
    table.add_column("Waarde", max_width=_VALUE_WIDTH)
    table.add_column("Melding", ratio=1)
    for values in shown.select(columns).iter_rows(named=True):
        style = _CLASS_STYLES.get(str(values["code"]).split("-", 1)[0], "")
        cells = [
            Text(_shorten(values["value"])) if column == "value" else _cell(values[column])
            for column in columns
        ]
        cells[columns.index("code")].stylize(style)
        table.add_row(*cells)
    return table


def _cell(value: object) -> Text:
    if value is None:
        return Text("")
    # Row numbers stay plain digits so they can be found in an editor as they are.
    return Text(str(value))


def _shorten(value: str | None) -> str:
    if value is None:
        return ""
    # Control characters would garble the terminal; show them as visible escapes.
    printable = "".join(c if c.isprintable() else repr(c)[1:-1] for c in value[:200])
    if len(printable) <= _VALUE_WIDTH:
        return printable
    return printable[: _VALUE_WIDTH - 1] + "…"
