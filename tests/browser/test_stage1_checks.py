"""The browser's source checks (`portal/static/stage1/checks.js`) against Python's: per row the
same findings `field=code` in the same order, and the same date format, as `write_stage1_file`
writes into the stage-1 file's `zb_bronbevindingen` column and manifest, for each dataset's
generated export (its deliberate errors included) in every format a hospital sends."""

from __future__ import annotations

import base64
import json
import random
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


#: Values that probe the source checks' corners: BSNs with dots, spaces, eight digits, letters,
#: leading plus, failing and passing the eleven-test; dates in both formats, impossible dates,
#: leap days, birthdays on the boundary of 18 and 100 years; names too long, blank, padded.
TRICKY = {
    "bsn": ["", " ", "123456782", "12345678", "1234.56.782", "1234 56 782", "12-34-56-782",
            "+12345678", "000000000", "111222333", "11122233", "abcdefghi", "98765432101234",
            " 123456782 ", "٠١٢٣٤٥٦٧٨", "123456789"],
    "achternaam": ["", "  ", "de Vries", "x" * 100, "y" * 101, "é" * 101, " Jansen "],
    "geboortedatum": ["", "1950-01-01", "01-01-1950", "1950-1-1", "1950-02-29", "1952-02-29",
                      "2008-11-14", "2008-11-15", "1926-11-14", "1926-11-13", "31-02-1960",
                      "19500101", "2030-01-01", " 1960-05-05 ", "+1960-05-05", "99-01-01"],
    "procedure_datum": ["", "2026-11-14", "14-11-2026", "2026-13-01", "abc", "2000-01-01",
                        "1940-01-01", "2026-2-3"],
    "patient_id": ["", "P1", "P1", "P2"],
}  # fmt: skip


def _mutated(data: bytes, seed: int, dmy: bool) -> bytes:
    frame = pl.read_csv(data, separator=";", infer_schema=False)
    rng = random.Random(seed)
    columns = {}
    for name in frame.columns:
        values = frame[name].to_list()
        if name in TRICKY:
            values = [rng.choice(TRICKY[name]) if rng.random() < 0.6 else v for v in values]
        if dmy and name.endswith("datum"):
            values = [
                f"{v[8:10]}-{v[5:7]}-{v[:4]}" if v and len(v) == 10 and v[4] == "-" else v
                for v in values
            ]
        columns[name] = values
    return (
        pl.DataFrame(columns, schema=dict.fromkeys(frame.columns, pl.String))
        .write_csv(separator=";")
        .encode()
    )


@pytest.mark.parametrize("dmy", [False, True])
@pytest.mark.parametrize("dataset", ["nhr-pmicd", "nivel-fysio"])
def test_tricky_values_give_the_findings_python_gives(
    page: Any, tmp_path: Path, dataset: str, dmy: bool
) -> None:
    from zorgbroker.intake.generate.api import generate

    source = tmp_path / ("bron.zip" if dataset == "nivel-fysio" else "bron.csv")
    generate(dataset, rows=400, error_rate=0.2, seed=5, out=source, today=TODAY)
    path = tmp_path / ("lastig.zip" if dataset == "nivel-fysio" else "lastig.csv")
    if dataset == "nivel-fysio":
        with zipfile.ZipFile(source) as archive, zipfile.ZipFile(path, "w") as out:
            for name in archive.namelist():
                out.writestr(name, _mutated(archive.read(name), 7, dmy))
    else:
        path.write_bytes(_mutated(source.read_bytes(), 7, dmy))
    py = python_findings(path, dataset, tmp_path)
    js = browser_findings(page, path, dataset)
    assert js["tables"] == py["tables"]
    found = {f for t in js["tables"].values() for f in t["findings"] if f}
    assert len(found) >= 3
    # Not a vacuous comparison: the corners reach the source checks' codes.
    codes = {token.split("=")[1] for f in found for token in f.split()}
    assert len(codes) >= 3


DATE_TEXTS = [
    "2026-11-14", "2026-1-4", "14-11-2026", "4-1-2026", "2024-02-29", "2023-02-29", "29-02-2024",
    "0099-01-01", "99-01-01", "+2026-11-14", "-0001-01-01", "2026-13-01", "2026-00-10",
    "2026-11-31", "20260-01-01", "2026-011-14", "2026/11/14", "2026-11-14x", "", "abc",
    "01-01-99", "1-1-1", "9999-12-31", "31-12-9999", "2026-1-04", "0000-01-01",
]  # fmt: skip


@pytest.mark.parametrize("date_format", ["%Y-%m-%d", "%d-%m-%Y"])
def test_parse_date_reads_what_the_engine_reads(page: Any, date_format: str) -> None:
    # Through the date's parts: Python's date cannot hold the year -1 that Polars reads.
    parsed = pl.Series(DATE_TEXTS).str.to_date(date_format, strict=False)
    parts = pl.DataFrame({"y": parsed.dt.year(), "m": parsed.dt.month(), "d": parsed.dt.day()})
    expected = [None if y is None else [y, m, d] for y, m, d in parts.rows()]
    found = page.evaluate(
        """async ([texts, format]) => {
          const { parseDate } = await import("/stage1/checks.js");
          return texts.map((t) => {
            const d = parseDate(t, format);
            return d === null ? null : [d.year, d.month, d.day];
          });
        }""",
        [DATE_TEXTS, date_format],
    )
    assert found == expected


def _own_dataset(root: Path) -> None:
    """nivel-fysio as `nivel-bron`, with more source checks: a unique BSN, a rule on episodes
    reading the patient's birth date through the reference and the practice's extraction date
    from its one-row table, and a rule on patients with exists() over their episodes."""
    import shutil

    import zorgbroker.intake.datasets as shipped

    folder = root / "nivel-bron"
    shutil.copytree(Path(shipped.__file__).parent / "nivel-fysio", folder)
    spec = (folder / "spec.yaml").read_text(encoding="utf-8")
    spec = spec.replace("dataset: nivel-fysio", "dataset: nivel-bron", 1)
    spec = spec.replace(
        "{name: bsn, required: true,", "{name: bsn, required: true, unique: true,", 1
    )
    rule = (
        '      - {code: W-199, field: startdatum, when: "startdatum < patient_id.geboortedatum '
        'or (patient_id.geboortedatum is empty and startdatum < praktijk.extractie_datum)"}\n'
    )
    anchor = '      - {code: F-004, field: einddatum, when: "einddatum < startdatum"}\n'
    assert anchor in spec
    spec = spec.replace(anchor, anchor + rule, 1)
    patients = (
        '      - {code: W-198, field: geboortedatum, when: "geboortedatum is not empty and not '
        "exists(episodes, startdatum >= date('2026-06-01'))\"}\n"
    )
    anchor = '      - {code: F-107, field: bsn, when: "not elfproef(bsn)"}\n'
    assert anchor in spec
    spec = spec.replace(anchor, anchor + patients, 1)
    spec = spec.replace(
        "messages:\n",
        'messages:\n  W-199: {nl: "Episode begint vóór de geboorte", en: "Episode before birth"}\n'
        '  W-198: {nl: "Geen recente episode", en: "No recent episode"}\n',
        1,
    )
    (folder / "spec.yaml").write_text(spec, encoding="utf-8")


def test_a_rule_reading_another_tables_identifying_field(
    page: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from zorgbroker.intake.generate.api import generate

    _own_dataset(tmp_path / "specs")
    monkeypatch.setenv("ZORGBROKER_DATASETS", str(tmp_path / "specs"))
    plan = plan_of("nivel-bron")
    episodes = next(t for t in plan["tables"] if t["name"] == "episodes")
    assert [d["head"] for d in episodes["source_checks"]["dotted"]] == ["patient_id", "praktijk"]
    source = tmp_path / "bron.zip"
    generate("nivel-fysio", rows=300, error_rate=0.2, seed=9, out=source, today=TODAY)
    path = tmp_path / "lastig.zip"
    with zipfile.ZipFile(source) as archive, zipfile.ZipFile(path, "w") as out:
        for name in archive.namelist():
            out.writestr(name, _mutated(archive.read(name), 3, False))
    py = python_findings(path, "nivel-bron", tmp_path)
    data = base64.b64encode(path.read_bytes()).decode()
    js = page.evaluate(
        """async ([data, name, plan, today]) => {
          const { readExport } = await import("/stage1/read.js");
          const { sourceFindings } = await import("/stage1/checks.js");
          const bytes = Uint8Array.from(atob(data), (c) => c.charCodeAt(0));
          const read = await readExport(new File([bytes], name), plan);
          const out = {};
          for (const table of read.tables) {
            out[table.name] = sourceFindings(plan, table, { today, tables: read.tables });
          }
          return out;
        }""",
        [data, path.name, plan, TODAY.isoformat()],
    )
    assert js == py["tables"]
    found = " ".join(f for t in js.values() for f in t["findings"])
    assert "startdatum=W-199" in found and "bsn=F-006" in found
    assert "geboortedatum=W-198" in found
