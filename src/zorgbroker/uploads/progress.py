"""An upload's live progress: the stage processing is in, since when, and the stages done with
their seconds and rows, kept on the upload's row so that any process (the portal's progress
page) can read them while a worker processes.

The stages on the registry's side, in order: `structure` (reading the stage-1 file and its
structure), `pseudonymisation` (the TTP's final pseudonyms), `validation` (the checks),
`comparison` and `import` (production only), then `done`. The check alternates between
pseudonymisation and validation when it works in batches; a stage's seconds and rows add up.
The tracker writes only at a stage boundary, never per row.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable
from typing import Any

from sqlalchemy import Engine, update

from zorgbroker.registry.database import write_transaction
from zorgbroker.registry.models import Upload
from zorgbroker.uploads.models import FINISHED

STRUCTURE = "structure"
PSEUDONYMISATION = "pseudonymisation"
VALIDATION = "validation"
COMPARISON = "comparison"
IMPORT = "import"
DONE_STAGE = "done"

#: What a data manager reads for each stage, in the order they come.
STAGE_LABELS = {
    "received": "Ontvangen",
    STRUCTURE: "Structuur",
    PSEUDONYMISATION: "Pseudonimisering bij de TTP",
    VALIDATION: "Validatie",
    COMPARISON: "Vergelijking met eerdere aanleveringen",
    IMPORT: "Import",
    DONE_STAGE: "Klaar",
}


def rows_per_second(rows: int | None, seconds: float | None) -> int | None:
    if not rows or not seconds or seconds <= 0:
        return None
    return round(rows / seconds)


class StageTracker:
    """Records the stages of one attempt at processing one upload on its row."""

    def __init__(
        self,
        engine: Engine,
        upload_id: int,
        clock: Callable[[], dt.datetime],
        timer: Callable[[], float] = time.perf_counter,
    ) -> None:
        self._engine = engine
        self._upload_id = upload_id
        self._clock = clock
        self._timer = timer
        self._stages: dict[str, dict[str, Any]] = {}
        self._current: str | None = None
        self._since = 0.0

    @property
    def stages(self) -> dict[str, dict[str, Any]]:
        return {name: dict(values) for name, values in self._stages.items()}

    def _close_current(self, now: float) -> None:
        if self._current is None:
            return
        entry = self._stages.setdefault(self._current, {"seconds": 0.0, "rows": None})
        entry["seconds"] = round(entry["seconds"] + now - self._since, 3)

    def enter(self, stage: str) -> None:
        """Stage `stage` begins (the current one ends); nothing is written when it is the
        current one already."""
        if stage == self._current:
            return
        now = self._timer()
        self._close_current(now)
        self._current = stage
        self._since = now
        self._stages.setdefault(stage, {"seconds": 0.0, "rows": None})
        self._write()

    def record(self, stage: str, *, seconds: float | None = None, rows: int | None = None) -> None:
        """Set a stage's figures after the fact (the import measures its own phases); written
        with the next boundary."""
        entry = self._stages.setdefault(stage, {"seconds": 0.0, "rows": None})
        if seconds is not None:
            entry["seconds"] = round(seconds, 3)
        if rows is not None:
            entry["rows"] = rows

    def _write(self) -> None:
        # Never over a finished upload: a second process on it (which then finds it finished)
        # must not replace the stages the first one kept.
        with write_transaction(self._engine) as conn:
            conn.execute(
                update(Upload)
                .where(Upload.id == self._upload_id, Upload.status.notin_(FINISHED))
                .values(stage=self._current, stage_started_at=self._clock(), stages=self.stages)
            )

    def finished(self) -> dict[str, dict[str, Any]]:
        """The stages with the current one closed: what the finished upload keeps."""
        self._close_current(self._timer())
        self._current = None
        return self.stages
