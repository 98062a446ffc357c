"""An upload's live progress: the stage on its row at each boundary while it is processed, and
the stages with their seconds and rows once it is done."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import polars as pl
from sqlalchemy import Engine

from tests.uploads.test_service import engine, export, make_service, no_settings, store, submit
from zorgbroker.pseudonymisation.registry_side import check_stage1_file
from zorgbroker.uploads.files import LocalFileStore
from zorgbroker.uploads.progress import StageTracker, rows_per_second
from zorgbroker.uploads.service import UploadService
from zorgbroker.uploads.tasks import Held, Inline

__all__ = ["engine", "no_settings", "store"]


def spying_checker(seen: list[str], service: list[UploadService]) -> Any:
    """The registry's check, noting the upload's stage when it starts, after each relay call
    (the TTP's pseudonyms; the service's own wrapper marks its stage around the call) and when
    it ends."""

    def stage_now() -> str:
        (info,) = service[0].list()
        return str(info.stage)

    def check(path: Path, spec: Any, options: Any, name: str) -> Any:
        seen.append(stage_now())
        relay = options.relay

        def relayed(table: str, field: str, values: pl.Series, sealed: pl.Series | None) -> Any:
            result = relay(table, field, values, sealed)
            seen.append(stage_now())
            return result

        outcome = check_stage1_file(path, spec, dataclasses.replace(options, relay=relayed), name)
        seen.append(stage_now())
        return outcome

    return check


def test_each_stage_is_on_the_row_while_it_runs_and_the_figures_stay(
    engine: Engine, store: LocalFileStore, tmp_path: Path
) -> None:
    seen: list[str] = []
    holder: list[UploadService] = []
    service = make_service(engine, store, tmp_path, dispatcher=Inline(),
                           checker=spying_checker(seen, holder))  # fmt: skip
    holder.append(service)

    upload_id = submit(service, export(tmp_path, rows=5))

    assert seen[0] == "structure"
    assert len(seen) > 2 and set(seen[1:]) == {"validation"}
    info = service.get(upload_id)
    assert info is not None and info.status == "done" and info.stage == "done"
    assert info.stages is not None
    assert list(info.stages) == ["structure", "pseudonymisation", "validation", "comparison",
                                 "import"]  # fmt: skip
    assert info.stages["pseudonymisation"]["rows"] == 5
    assert info.stages["import"]["rows"] == 5
    assert all(stage["seconds"] >= 0 for stage in info.stages.values())


def test_the_tracker_writes_only_at_boundaries_and_adds_up_a_stage_that_comes_back(
    engine: Engine, store: LocalFileStore, tmp_path: Path
) -> None:
    service = make_service(engine, store, tmp_path, dispatcher=Held())
    upload_id = submit(service, export(tmp_path))  # queued
    ticks = iter([0.0, 1.0, 3.0, 4.0, 10.0])
    tracker = StageTracker(engine, upload_id, lambda: service.get(upload_id).submitted_at,  # type: ignore[union-attr]
                           timer=lambda: next(ticks))  # fmt: skip
    tracker.enter("validation")  # 0
    tracker.enter("pseudonymisation")  # 1: validation 1 s
    tracker.enter("validation")  # 3: pseudonymisation 2 s
    tracker.enter("validation")  # no boundary: no tick, no write
    stages = tracker.finished()  # 4: validation 1 + 1 s
    assert stages == {"validation": {"seconds": 2.0, "rows": None},
                      "pseudonymisation": {"seconds": 2.0, "rows": None}}  # fmt: skip
    info = service.get(upload_id)
    assert info is not None and info.stage == "validation"
    # Once finished, the upload's stages are its own: a late tracker changes nothing.
    service.process(upload_id)
    done = service.get(upload_id)
    late = StageTracker(engine, upload_id, lambda: done.submitted_at)  # type: ignore[union-attr]
    late.enter("structure")
    assert service.get(upload_id) == done
    assert rows_per_second(100, 2.0) == 50 and rows_per_second(None, 1.0) is None
    assert rows_per_second(5, 0.0) is None
