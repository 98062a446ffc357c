"""An upload's report as a page a data manager works through, and its downloads.

The page: a banner that says whether anything was stored, the summary per code with its Dutch
explanation, and the messages grouped by code (the first ten of each; "toon alle" pages through
one code), filtered by class, code and field through the query string (htmx swaps the messages
only; without JavaScript the form simply reloads the page). The messages come from the report's
Parquet copy, so a page of a 100,000-message report is a few Polars operations
(bench/bench_report_page.py).

Downloads: the contract's Excel and JSON report, and a CSV of the rejected record numbers, each
with `Content-Disposition: attachment` and a name chosen here. Every view and download is
written to the access log (NEN 7513) before it is served.
"""

from __future__ import annotations

import io
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response

from zorgbroker.accounts.services import UserView
from zorgbroker.portal.pages import RedirectTo, render
from zorgbroker.portal.routes.uploads_common import on_behalf_of, upload_service, visible_upload
from zorgbroker.uploads.models import DONE, UploadInfo

router = APIRouter()

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
CLASS_LABELS = {
    "BF": "BF: bestand afgewezen",
    "BW": "BW: waarschuwing voor het hele bestand",
    "F": "F: record afgewezen",
    "W": "W: waarschuwing",
    "TF": "TF: afgewezen wegens conflict met eerder aangeleverde gegevens",
    "TW": "TW: waarschuwing voor mogelijk conflict met eerder aangeleverde gegevens",
}


def _log(request: Request, user: UserView, info: UploadInfo, action: str, detail: str) -> None:
    """Into the access log before anything is shown (the API writes the same actions)."""
    upload_service(request).record_access(
        info.id, actor=user.email, on_behalf_of=on_behalf_of(user), action=action, detail=detail
    )


def _finished(request: Request, upload_id: int) -> tuple[UserView, UploadInfo]:
    user, info = visible_upload(request, upload_id)
    if info.status != DONE:
        # No report (yet): the progress page says why.
        raise RedirectTo(f"/aanleveringen/{upload_id}")
    return user, info


def _texts(dataset: str) -> dict[str, str]:
    from zorgbroker.intake.api import SpecError, load_dataset

    try:
        spec = load_dataset(dataset)
    except (SpecError, KeyError):
        return {}
    return {code: text.nl for code, text in spec.messages.items()}


def _banner(info: UploadInfo) -> tuple[str, str]:
    """Whether anything was stored, plainly: (kind, sentence)."""
    if info.file_rejected:
        return "afgewezen", "Het bestand is afgewezen. Er is niets opgeslagen."
    if info.mode != "production":
        return "niets", "Dit was een testaanlevering. Er is niets opgeslagen."
    stored = info.stored
    if stored is None:
        return "niets", "Er is niets opgeslagen."
    return "opgeslagen", (
        f"Opgeslagen in de registratie: {stored.new} nieuw, {stored.updated} gewijzigd, "
        f"{stored.unchanged} ongewijzigd. Afgewezen records zijn niet opgeslagen."
    )


def _int(value: str, default: int = 1) -> int:
    return int(value) if value.isdigit() and len(value) < 9 else default


@router.get("/aanleveringen/{upload_id}/rapport")
def report_page(
    request: Request,
    upload_id: int,
    klasse: str = "",
    code: str = "",
    veld: str = "",
    pagina: str = "1",
) -> Response:
    from zorgbroker.uploads import report_view as view

    user, info = _finished(request, upload_id)
    chosen = view.MessageFilter(klasse if klasse in CLASS_LABELS else "", code[:40], veld[:100])
    _log(request, user, info, "rapport-pagina", f"portaal {request.url.query}"[:500])
    frame = upload_service(request).messages(upload_id)
    texts = _texts(info.dataset)
    values: dict[str, Any] = {}
    if chosen.code:
        values["page"] = view.page(frame, chosen, _int(pagina))
    else:
        values["groups"] = view.groups(frame, chosen, texts)
        values["shown"] = view.filtered(frame, chosen).height
    kind, sentence = _banner(info)
    return render(
        request,
        "uploads/report.html",
        title=f"Rapport van aanlevering {info.id}",
        info=info,
        banner_kind=kind,
        banner=sentence,
        summary=view.summary(frame, texts),
        fields=view.fields_of(frame),
        class_labels=CLASS_LABELS,
        chosen=chosen,
        total=frame.height,
        multi_table=frame["table"].drop_nulls().n_unique() > 1,
        per_group=view.PER_GROUP,
        **values,
    )


def _attachment(body: bytes, media_type: str, name: str) -> Response:
    return Response(
        body,
        media_type=media_type,
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


@router.get("/aanleveringen/{upload_id}/rapport.xlsx")
def report_xlsx(request: Request, upload_id: int) -> Response:
    from zorgbroker.intake.api import write_xlsx

    user, info = _finished(request, upload_id)
    _log(request, user, info, "rapport-xlsx", "portaal")
    buffer = io.BytesIO()
    write_xlsx(upload_service(request).report(upload_id), buffer)
    return _attachment(buffer.getvalue(), XLSX, f"rapport-aanlevering-{info.id}.xlsx")


@router.get("/aanleveringen/{upload_id}/rapport.json")
def report_json(request: Request, upload_id: int) -> Response:
    from zorgbroker.intake.api import write_json

    user, info = _finished(request, upload_id)
    _log(request, user, info, "rapport-json", "portaal")
    buffer = io.StringIO()
    write_json(upload_service(request).report(upload_id), buffer)
    return _attachment(
        buffer.getvalue().encode("utf-8"),
        "application/json",
        f"rapport-aanlevering-{info.id}.json",
    )


@router.get("/aanleveringen/{upload_id}/afgewezen.csv")
def rejected_csv(request: Request, upload_id: int) -> Response:
    from zorgbroker.uploads.report_view import rejected_records

    user, info = _finished(request, upload_id)
    _log(request, user, info, "afgewezen-csv", "portaal")
    records = rejected_records(upload_service(request).messages(upload_id))
    return _attachment(
        records.write_csv().encode("utf-8"),
        "text/csv; charset=utf-8",
        f"afgewezen-records-aanlevering-{info.id}.csv",
    )
