"""Tables of the FHIR store: resources as JSON, their search index rows, and the access log."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import DateTime, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class Base(DeclarativeBase):
    pass


class StoredResource(Base):
    """One resource, current version only; `patient_id` is the patient whose compartment holds it
    (None for shared resources such as an Organization, reachable only through `_include`)."""

    __tablename__ = "fhir_resource"
    __table_args__ = (
        UniqueConstraint("resource_type", "resource_id", name="uq_fhir_resource_type_id"),
        Index("ix_fhir_resource_patient_type", "patient_id", "resource_type"),
    )

    pk: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    resource_type: Mapped[str] = mapped_column(String(64))
    resource_id: Mapped[str] = mapped_column(String(64))
    patient_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    last_updated: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    body: Mapped[str] = mapped_column(Text)


class SearchIndex(Base):
    """One value of one search parameter of a resource. Tokens fill `system`/`value`, references
    `value` with "Type/id", dates the UTC range `low`..`high` (ISO text, comparable as strings),
    strings `value` in lower case."""

    __tablename__ = "fhir_search_index"
    # Searches start from the patient's resources and look each one's values up (a correlated
    # EXISTS), so one index by resource first serves filters and includes alike.
    __table_args__ = (Index("ix_fhir_search_resource", "resource_pk", "param", "value"),)

    pk: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    resource_pk: Mapped[int] = mapped_column(
        ForeignKey("fhir_resource.pk", ondelete="CASCADE"), index=False
    )
    param: Mapped[str] = mapped_column(String(64))
    system: Mapped[str | None] = mapped_column(String(255), nullable=True)
    value: Mapped[str | None] = mapped_column(String(255), nullable=True)
    low: Mapped[str | None] = mapped_column(String(32), nullable=True)
    high: Mapped[str | None] = mapped_column(String(32), nullable=True)


class AccessLogEntry(Base):
    """NEN 7513: one resource served, to whom (patient), to which client, when, in which request."""

    __tablename__ = "fhir_access_log"
    __table_args__ = (Index("ix_fhir_access_log_patient_at", "patient_id", "at"),)

    pk: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    patient_id: Mapped[str] = mapped_column(String(64))
    client_id: Mapped[str] = mapped_column(String(255))
    resource_type: Mapped[str] = mapped_column(String(64))
    resource_id: Mapped[str] = mapped_column(String(64))
    request_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    correlation_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    query: Mapped[str] = mapped_column(Text)
