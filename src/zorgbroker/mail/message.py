"""The notification about a finished upload, composed from its metadata and report alone.

Nothing here reads the uploaded file, and nothing quotes a message's value or text: the mail
carries counts, codes and the codes' Dutch explanations from the dataset specification. The
attached Excel report follows the report contract, which never holds an identifying value.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid

from zorgbroker.intake.api import MODE_LABELS, Report, code_rows, format_count
from zorgbroker.registry.models import DONE, FAILED
from zorgbroker.registry.uploads import UploadInfo

XLSX_TYPE = ("application", "vnd.openxmlformats-officedocument.spreadsheetml.sheet")
#: Lets `zorgbroker mail` and tests tell which upload a message is about.
UPLOAD_HEADER = "X-Zorgbroker-Upload"
#: The facts line up in a plain-text mail: "Geaccepteerd:" is the longest label.
LABEL_WIDTH = 13


def status_label(info: UploadInfo, report: Report | None) -> str:
    if info.status == FAILED:
        return "mislukt"
    if info.status != DONE:
        return "niet afgerond"
    if report is not None and report.file_rejected:
        return "bestand afgewezen"
    return "verwerkt"


def subject_for(info: UploadInfo, report: Report | None) -> str:
    head = f"Aanlevering {info.id} ({info.dataset})"
    label = status_label(info, report)
    if label == "verwerkt" and report is not None:
        return (
            f"{head} verwerkt: {format_count(report.accepted)} van "
            f"{format_count(report.records)} records geaccepteerd"
        )
    return f"{head} {label}"


def attachment_name(upload_id: int) -> str:
    return f"rapport-aanlevering-{upload_id}.xlsx"


def _moment(value: dt.datetime | None) -> str:
    return value.astimezone().strftime("%d-%m-%Y %H:%M") if value else "-"


def _facts(info: UploadInfo, report: Report | None) -> list[tuple[str, str]]:
    facts = [
        ("Aanlevering", str(info.id)),
        ("Dataset", f"{info.dataset} (versie {info.dataset_version})"),
        ("Organisatie", info.organisation),
        ("Bestand", info.file_name),
        ("Modus", MODE_LABELS.get(info.mode, info.mode)),
        ("Status", status_label(info, report)),
        ("Aangeleverd", _moment(info.submitted_at)),
        ("Afgerond", _moment(info.finished_at)),
    ]
    if report is not None:
        facts += [
            ("Records", format_count(report.records)),
            ("Geaccepteerd", format_count(report.accepted)),
            ("Afgewezen", format_count(report.records - report.accepted)),
        ]
        if report.stored is not None:
            s = report.stored
            facts.append(
                (
                    "Opgeslagen",
                    f"{format_count(s.new)} nieuw, {format_count(s.updated)} gewijzigd, "
                    f"{format_count(s.unchanged)} ongewijzigd",
                )
            )
    return facts


def _code_lines(report: Report) -> list[str]:
    rows = code_rows(report)
    if not rows:
        return ["Geen meldingen: het bestand voldoet aan de specificatie."]
    width = max(len(format_count(r.count)) for r in rows)
    lines = ["Meldingen per code:"]
    for row in rows:
        lines.append(f"  {row.code:<7} {format_count(row.count):>{width}}  {row.explanation}")
    return lines


def body_for(info: UploadInfo, report: Report | None, *, attached: bool) -> str:
    label = status_label(info, report)
    if label == "mislukt":
        opening = "De verwerking van uw aanlevering is mislukt. Er is niets opgeslagen."
    elif label == "bestand afgewezen":
        opening = (
            "Uw aanlevering is verwerkt, maar het bestand is afgewezen. Er is niets opgeslagen."
        )
    else:
        opening = "Uw aanlevering is verwerkt."
    lines = [opening, ""]
    lines += [f"{name + ':':<{LABEL_WIDTH}} {value}" for name, value in _facts(info, report)]
    if info.status == FAILED and info.error:
        lines += ["", f"Reden: {info.error}"]
    if report is not None:
        lines += ["", *_code_lines(report), ""]
        if attached:
            lines.append(f"Het volledige rapport staat in de bijlage ({attachment_name(info.id)}).")
        else:
            lines.append("Het rapport is te groot om mee te sturen.")
        lines += [
            "U kunt het rapport altijd opnieuw opvragen met:",
            f"  zorgbroker report {info.id} --format xlsx",
        ]
    lines += [
        "",
        "Dit bericht is automatisch verstuurd door zorgbroker en bevat geen gegevens uit het "
        "bestand zelf.",
    ]
    return "\n".join(lines) + "\n"


def build_message(
    info: UploadInfo,
    report: Report | None,
    *,
    sender: str,
    recipients: Sequence[str],
    xlsx: bytes | None,
    now: dt.datetime | None = None,
) -> EmailMessage:
    message = EmailMessage()
    message["Subject"] = subject_for(info, report)
    message["From"] = sender
    if recipients:
        message["To"] = ", ".join(recipients)
    message["Date"] = format_datetime(now or dt.datetime.now(dt.UTC))
    message["Message-ID"] = make_msgid(f"aanlevering-{info.id}", domain="zorgbroker.local")
    # RFC 3834: an automatic message; well-behaved servers send no out-of-office replies to it.
    message["Auto-Submitted"] = "auto-generated"
    message[UPLOAD_HEADER] = str(info.id)
    message.set_content(body_for(info, report, attached=xlsx is not None))
    if xlsx is not None:
        message.add_attachment(
            xlsx, maintype=XLSX_TYPE[0], subtype=XLSX_TYPE[1], filename=attachment_name(info.id)
        )
    return message
