"""What the API answers, as pydantic models: they are its OpenAPI document."""

from __future__ import annotations

import datetime as dt
from typing import Literal

from pydantic import BaseModel, Field

from zorgbroker.uploads.models import STATUS_LABELS, UploadInfo
from zorgbroker.uploads.progress import rows_per_second


class Problem(BaseModel):
    """Every error: a Dutch explanation naming the file or field."""

    detail: str


class StoredCounts(BaseModel):
    new: int
    updated: int
    unchanged: int


class Links(BaseModel):
    status: str
    report: str
    report_xlsx: str
    rejected_csv: str


class StageFigures(BaseModel):
    seconds: float | None
    rows: int | None
    rows_per_second: int | None


class UploadStatus(BaseModel):
    id: int
    organisation: str = Field(description="AGB-code van de aanleverende organisatie")
    dataset: str
    dataset_version: str
    mode: Literal["test", "production"] | str
    status: str = Field(description="queued, processing, done, failed of stopped")
    status_label: str
    file: str
    submitted_at: dt.datetime
    finished_at: dt.datetime | None
    records: int | None
    accepted: int | None
    rejected: int | None
    file_rejected: bool | None
    stored: StoredCounts | None
    error: str | None
    stage: str | None = Field(
        description="de stap waarin de verwerking is: structure, pseudonymisation, "
        "validation, comparison of import; done als ze klaar is, leeg voordat ze begon"
    )
    stage_started_at: dt.datetime | None
    stages: dict[str, StageFigures] = Field(
        description="per stap van de (laatste) verwerking: seconden, rijen en rijen per seconde"
    )
    links: Links


class UploadAccepted(BaseModel):
    id: int
    status: str
    status_url: str


class Me(BaseModel):
    """Who a token acts for: the source's tool reads the AGB code its checks compare with."""

    user: str
    organisation_agb: str | None
    sees_all_organisations: bool
    token: int


class UploadPage(BaseModel):
    items: list[UploadStatus]
    limit: int
    offset: int
    next: str | None


def links(base: str, upload_id: int) -> Links:
    own = f"{base}/uploads/{upload_id}"
    return Links(
        status=own,
        report=f"{own}/report",
        report_xlsx=f"{own}/report.xlsx",
        rejected_csv=f"{own}/rejected.csv",
    )


def status_of(info: UploadInfo, base: str) -> UploadStatus:
    stored = info.stored
    return UploadStatus(
        id=info.id,
        organisation=info.organisation,
        dataset=info.dataset,
        dataset_version=info.dataset_version,
        mode=info.mode,
        status=info.status,
        status_label=STATUS_LABELS.get(info.status, info.status),
        file=info.file_name,
        submitted_at=info.submitted_at,
        finished_at=info.finished_at,
        records=info.records,
        accepted=info.accepted,
        rejected=info.rejected,
        file_rejected=info.file_rejected,
        stored=None
        if stored is None
        else StoredCounts(new=stored.new, updated=stored.updated, unchanged=stored.unchanged),
        error=info.error,
        stage=info.stage,
        stage_started_at=info.stage_started_at,
        stages={
            name: StageFigures(
                seconds=figures.get("seconds"),
                rows=figures.get("rows"),
                rows_per_second=rows_per_second(figures.get("rows"), figures.get("seconds")),
            )
            for name, figures in (info.stages or {}).items()
        },
        links=links(base, info.id),
    )
