"""Tables of the FHIR store: resources as JSON, their search index rows, and the access log."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Boolean, DateTime, ForeignKey, Index, Integer, String, Text, UniqueConstraint
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
    #: The token's scope (`<zorgaanbiedernaam>~<gegevensdienstid>`): which data service.
    scope: Mapped[str | None] = mapped_column(String(255), nullable=True)


class PatientAccount(Base):
    """The accounts user who is this FHIR Patient: who may consent for the patient's record."""

    __tablename__ = "fhir_patient_account"

    user_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    patient_id: Mapped[str] = mapped_column(String(64), unique=True)


class OAuthClientSecret(Base):
    """The secret a PGO server (OCL hostname) authenticates with at the token endpoint, hashed."""

    __tablename__ = "oauth_client_secret"

    client_id: Mapped[str] = mapped_column(String(255), primary_key=True)
    secret_hash: Mapped[str] = mapped_column(String(64))


class AuthorizationCode(Base):
    """A code issued after the patient's consent; used once, then retired (`used_at`)."""

    __tablename__ = "oauth_authorization_code"

    pk: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    code_hash: Mapped[str] = mapped_column(String(64), unique=True)
    client_id: Mapped[str] = mapped_column(String(255))
    redirect_uri: Mapped[str] = mapped_column(Text)
    scope: Mapped[str] = mapped_column(String(255))
    patient_id: Mapped[str] = mapped_column(String(64))
    expires_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    used_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)


class AccessToken(Base):
    """An access token, stored as its SHA-256 digest; `code_pk` names the code it came from, so a
    replayed code revokes it."""

    __tablename__ = "oauth_access_token"

    pk: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    code_pk: Mapped[int | None] = mapped_column(Integer, nullable=True, index=True)
    client_id: Mapped[str] = mapped_column(String(255))
    patient_id: Mapped[str] = mapped_column(String(64))
    scope: Mapped[str] = mapped_column(String(255))
    expires_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    revoked: Mapped[bool] = mapped_column(Boolean, default=False)
