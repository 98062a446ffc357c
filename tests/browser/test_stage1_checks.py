"""The browser's source checks (`portal/static/stage1/checks.js`) against Python's: per row the
same findings `field=code` in the same order, and the same date format, as `write_stage1_file`
writes into the stage-1 file's `zb_bronbevindingen` column and manifest, for each dataset's
generated export (its deliberate errors included) in every format a hospital sends."""

from __future__ import annotations

import datetime as dt
import json
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import polars as pl
import pytest

from tests.browser.stage1_support import plan_of, serve_static
from tests.browser.test_stage1_read import DATASETS, TODAY, VARIANTS
from zorgbroker.intake.api import load_dataset
from zorgbroker.pseudonymisation.source_file import write_stage1_file

CHECK_JS = """
async ([data, name, plan, today]) => {
  const { readExport } = await import("/stage1/read.js");
  const { sourceFindings } = await import("/stage1/checks.js");
  const bytes = Uint8Array.from(atob(data), (c) => c.charCodeAt(0));
  const read = await readExport(new File([bytes], name), plan);
  const out = {};
  for (const table of read.tables) out[table.name] = sourceFindings(plan, table, { today });
  return { refused: read.refused, tables: out };
}
"""


@pytest.fixture(scope="module")
def page(browser: Any) -> Iterator[Any]:
    with serve_static() as url:
        context = browser.new_context()
        page = context.new_page()
        page.goto(url + "/portal.css")
        yield page
        context.close()


def python_findings(path: Path, dataset: str, folder: Path) -> dict[str, Any]:
    """Per table: the findings column and the date format of Python's stage-1 file."""
    spec = load_dataset(dataset)
    out = folder / "stap1.zip"
    write_stage1_file(
        path, dataset, spec.registry, out, key=bytes(32), ttp_public_key=None, today=TODAY,
        seal=False,
    )  # fmt: skip
    with zipfile.ZipFile(out) as archive:
        manifest = json.loads(archive.read("zorgbroker-stap1.json"))
        tables = {}
        for table, member in manifest["members"].items():
            frame = pl.read_csv(archive.read(member), separator=";", infer_schema=False)
            findings = frame["zb_bronbevindingen"].fill_null("").to_list()
            tables[table] = {"findings": findings, "dateFormat": manifest["date_formats"][table]}
    return {"refused": manifest["refused"], "tables": tables}


def browser_findings(page: Any, path: Path, dataset: str) -> Any:
    import base64

    data = base64.b64encode(path.read_bytes()).decode()
    return page.evaluate(CHECK_JS, [data, path.name, plan_of(dataset), TODAY.isoformat()])


@pytest.mark.parametrize("variant", list(VARIANTS))
@pytest.mark.parametrize("dataset", DATASETS)
def test_findings_and_date_format_as_in_python(
    page: Any, tmp_path: Path, dataset: str, variant: str
) -> None:
    path = VARIANTS[variant](dataset, tmp_path)
    py = python_findings(path, dataset, tmp_path)
    js = browser_findings(page, path, dataset)
    assert not py["refused"]
    assert js["tables"] == py["tables"]
    if dataset != "parabench-mi":
        # The generator's deliberate errors include source findings, so the comparison is not
        # one of empty columns.
        assert any(f for t in js["tables"].values() for f in t["findings"])
