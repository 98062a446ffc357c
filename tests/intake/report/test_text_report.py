from __future__ import annotations

import io
import re
from collections.abc import Callable

from rich.console import Console

from zorgbroker.intake.report.model import Report, Stored
from zorgbroker.intake.report.text_report import render_text

ReportFactory = Callable[..., Report]
CODE = re.compile(r"(BF|BW|F|W|TF|TW)-\d{3}")


def rendered(report: Report, **options: int) -> str:
    console = Console(record=True, width=120, file=io.StringIO())
    render_text(report, console, **options)
    return console.export_text()


def line_with(text: str, needle: str) -> str:
    return next(line for line in text.splitlines() if needle in line)


def test_header_states_dataset_mode_file_and_counts(make_report: ReportFactory) -> None:
    text = rendered(make_report(records=1500, rejected=3))

    assert "nhr-pmicd 2026.1" in text
    assert "test" in line_with(text, "Modus")
    assert "export.csv" in line_with(text, "Bestand")
    assert "123.456 bytes" in line_with(text, "Grootte")
    assert "1.500" in line_with(text, "Records")
    assert "1.497" in line_with(text, "Geaccepteerd")
    assert "3" in line_with(text, "Afgewezen")
    assert "BESTAND AFGEWEZEN" not in text
    assert "Opgeslagen" not in text


def test_production_upload_shows_mode_and_stored_counts(make_report: ReportFactory) -> None:
    text = rendered(make_report(mode="production", stored=Stored(new=90, updated=5, unchanged=2)))

    assert "productie" in line_with(text, "Modus")
    assert "90 nieuw, 5 gewijzigd, 2 ongewijzigd" in line_with(text, "Opgeslagen")


def test_codes_are_listed_by_class_then_code_with_dutch_explanations(
    make_report: ReportFactory,
) -> None:
    text = rendered(make_report())
    table = text[text.index("Meldingen per code") : text.index("Klassen:")]
    codes = [
        line.split()[0]
        for line in table.splitlines()
        if line.split() and CODE.fullmatch(line.split()[0])
    ]

    assert codes == ["BW-001", "F-004", "F-301", "W-301", "TF-301", "TW-301"]
    assert "BSN voldoet niet aan de elfproef" in line_with(table, "F-301")
    assert "2" in line_with(table, "W-301").split()


def test_class_legend_is_in_dutch(make_report: ReportFactory) -> None:
    text = rendered(make_report())
    legend = text[text.index("Klassen:") :]

    assert "F = record afgewezen" in legend
    assert "W = waarschuwing" in legend
    assert "BW = waarschuwing voor het hele bestand" in legend
    assert "TF = afgewezen wegens conflict met eerder aangeleverde gegevens" in legend
    assert "TW = waarschuwing voor mogelijk conflict" in legend


def test_messages_show_row_field_code_value_and_text(make_report: ReportFactory) -> None:
    text = rendered(make_report())
    row = line_with(text, "Waarde buiten het toegestane bereik (0 tot 4)")

    assert row.split()[:4] == ["21", "aantal_leads", "F-004", "-2"]
    assert "Tabel" not in text


def test_messages_beyond_the_limit_are_counted_not_shown(make_report: ReportFactory) -> None:
    text = rendered(make_report(), max_messages=3)

    assert "Leeftijd bij de ingreep is 104 jaar" in text
    assert "Zelfde ingreep al aangeleverd" not in text
    assert "… en nog 4 meldingen; zie het JSON- of Excel-rapport" in text


def test_no_truncation_line_when_all_messages_fit(make_report: ReportFactory) -> None:
    text = rendered(make_report(), max_messages=7)

    assert "en nog" not in text
    assert "Serienummer is al geïmplanteerd bij een andere patiënt" in text


def test_clean_file_says_there_are_no_messages(make_report: ReportFactory) -> None:
    text = rendered(make_report([], rejected=0))

    assert "Geen meldingen: het bestand voldoet aan de specificatie" in text
    assert "Meldingen per code" not in text


def test_rejected_file_is_announced(make_report: ReportFactory) -> None:
    bf = [
        {
            "record": None,
            "field": "bsn",
            "code": "BF-003",
            "value": None,
            "message": "Verplichte kolom ontbreekt: bsn",
        }
    ]
    text = rendered(make_report(bf, records=40, file_rejected=True))

    assert "BESTAND AFGEWEZEN" in text
    assert "0" in line_with(text, "Geaccepteerd").split()
    assert "40" in line_with(text, "Afgewezen").split()
    assert "Verplichte kolom ontbreekt: bsn" in text
    assert "BF = bestand afgewezen" in text


def test_multi_table_messages_name_their_table(multi_table_report: Report) -> None:
    text = rendered(multi_table_report)

    assert "Tabel" in text
    assert line_with(text, "1899-01-01").split()[:3] == ["episode", "7", "startdatum"]


def test_file_content_is_printed_literally_not_as_markup(make_report: ReportFactory) -> None:
    messages = [
        {
            "record": 1,
            "field": "opmerking",
            "code": "W-301",
            "value": "[bold red]x[/bold red]\x07",
            "message": "Tekst [link=x]y[/link]",
        }
    ]

    text = rendered(make_report(messages))

    assert "[bold red]x[/bold red]\\x07" in text
    assert "Tekst [link=x]y[/link]" in text
