"""The resource store: resources kept as JSON with their search index rows, in one transaction per
load, replacing a resource of the same type and id."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, delete, insert, or_, select

from zorgbroker.fhir.indexing import compartment, index_rows
from zorgbroker.fhir.models import SearchIndex, StoredResource
from zorgbroker.fhir.placeholders import fill_dates
from zorgbroker.fhir.resources import ResourceFormatError, parse_json, parse_xml
from zorgbroker.registry.database import write_transaction

Clock = Callable[[], dt.datetime]


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class LoadError(Exception):
    """A file that cannot be loaded; nothing of the load was stored."""

    def __init__(self, path: Path, reason: str) -> None:
        self.message = f"{path.name}: {reason}"
        super().__init__(self.message)


def read_resources(path: Path, today: dt.date) -> list[dict[str, Any]]:
    """The resources in one XML or JSON file (a resource, or a Bundle of them), date
    placeholders filled in."""
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise LoadError(path, "het bestand is geen UTF-8-tekst") from exc
    except OSError as exc:
        raise LoadError(path, f"kan het bestand niet lezen ({exc.strerror})") from exc
    data = fill_dates(text, today).encode()
    try:
        resource = parse_xml(data) if data.lstrip().startswith(b"<") else parse_json(data)
    except ResourceFormatError as exc:
        raise LoadError(path, str(exc)) from exc
    if resource["resourceType"] == "Bundle":
        found = [e["resource"] for e in resource.get("entry", ()) if "resource" in e]
    else:
        found = [resource]
    for item in found:
        if not item.get("id"):
            raise LoadError(path, f"een {item['resourceType']} zonder id")
    return found


def files_in(paths: Iterable[Path]) -> list[Path]:
    out: list[Path] = []
    for path in paths:
        if path.is_dir():
            out.extend(sorted(p for p in path.rglob("*") if p.suffix in {".xml", ".json"}))
        else:
            out.append(path)
    return out


@dataclass(frozen=True)
class Stored:
    pk: int
    resource_type: str
    resource_id: str
    patient_id: str | None
    body: str

    def resource(self) -> dict[str, Any]:
        result: dict[str, Any] = json.loads(self.body)
        return result


class FhirStore:
    def __init__(self, engine: Engine, clock: Clock = utcnow) -> None:
        self.engine = engine
        self.clock = clock

    def put_all(self, resources: Sequence[dict[str, Any]], batch: int = 2000) -> int:
        """Store resources, replacing any of the same type and id, in one transaction."""
        with write_transaction(self.engine) as conn:
            for start in range(0, len(resources), batch):
                self._put_batch(conn, resources[start : start + batch])
        return len(resources)

    def _put_batch(self, conn: Connection, resources: Sequence[dict[str, Any]]) -> None:
        # The last of several versions in one load wins, as if they were stored one by one.
        latest = {(r["resourceType"], str(r["id"])): r for r in resources}
        for kind in {k for k, _ in latest}:
            ids = [i for k, i in latest if k == kind]
            conn.execute(
                delete(StoredResource).where(
                    StoredResource.resource_type == kind, StoredResource.resource_id.in_(ids)
                )
            )
        now = self.clock()
        rows = [
            {
                "resource_type": kind,
                "resource_id": rid,
                "patient_id": compartment(resource),
                "last_updated": now,
                "body": json.dumps(resource, ensure_ascii=False, separators=(",", ":")),
            }
            for (kind, rid), resource in latest.items()
        ]
        pks = conn.execute(
            insert(StoredResource).returning(StoredResource.pk, sort_by_parameter_order=True),
            rows,
        ).scalars()
        index = [
            {"resource_pk": pk, **row.__dict__}
            for pk, resource in zip(pks, latest.values(), strict=True)
            for row in index_rows(resource)
        ]
        if index:
            conn.execute(insert(SearchIndex), index)

    def load_files(self, paths: Iterable[Path], today: dt.date) -> int:
        """Read every file first, then store all in one transaction: a bad file stores nothing."""
        resources: list[dict[str, Any]] = []
        for path in files_in(paths):
            resources.extend(read_resources(path, today))
        return self.put_all(resources)


def read_one(
    conn: Connection, resource_type: str, resource_id: str, patient_id: str
) -> Stored | None:
    """The resource `resource_type/resource_id` if it is in `patient_id`'s record or shared (no
    patient); a Patient only when it is that patient."""
    where = [
        StoredResource.resource_type == resource_type,
        StoredResource.resource_id == resource_id,
        or_(StoredResource.patient_id.is_(None), StoredResource.patient_id == patient_id),
    ]
    if resource_type == "Patient":
        where.append(StoredResource.resource_id == patient_id)
    row = conn.execute(
        select(
            StoredResource.pk,
            StoredResource.resource_type,
            StoredResource.resource_id,
            StoredResource.patient_id,
            StoredResource.body,
        ).where(*where)
    ).one_or_none()
    return None if row is None else Stored(*row)
