"""The same export through the browser's stage 1 (portal/static/stage1/stage1.js) and through
Python's (`write_stage1_file`, what `zorgbroker pseudonymise` runs) gives the same stage-1 file:
the same manifest, and per table the same stage-1 pseudonyms, derived fields, findings and
non-identifying columns. The sealed BSNs differ by construction (a fresh ephemeral key per
upload): they must have the `zb1s.` form and open at the TTP to the same BSNs. And the registry
accepts the browser's file (`stage1_reader.open_stage1_file`)."""

from __future__ import annotations

import base64
import datetime as dt
import io
import json
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import polars as pl
import pytest

from tests.browser.static_site import static_page
from zorgbroker.intake import api as intake_api
from zorgbroker.pseudonymisation.browser_plan import browser_plan
from zorgbroker.pseudonymisation.sealing import SealOpener
from zorgbroker.pseudonymisation.source_file import write_stage1_file
from zorgbroker.pseudonymisation.stage1_reader import open_stage1_file
from zorgbroker.pseudonymisation.ttp import TrustedThirdParty

DAY = dt.date(2026, 12, 7)
KEY = bytes(range(0x80, 0xA0))
SEALED = "bsn_verzegeld"

#: Makes the stage-1 file in the page and hands it back as base64.
_MAKE = """
async ({ name, data, plan, key, ttp, mode, day, useWorker, organisation }) => {
  const { makeStage1 } = await import("/static/stage1/stage1.js");
  const { fromBase64, toBase64 } = await import("/static/stage1/crypto.js");
  const file = new File([fromBase64(data)], name);
  const [y, m, d] = day.split("-").map(Number);
  const made = await makeStage1(file, plan, {
    mode,
    sourceKey: key ? fromBase64(key) : null,
    ttpPublicKey: ttp ? fromBase64(ttp) : null,
    today: new Date(y, m - 1, d),
    useWorker,
    organisation,
  });
  return { zip: toBase64(new Uint8Array(await made.blob.arrayBuffer())),
           fileName: made.fileName, summary: made.summary };
}
"""


@pytest.fixture(scope="module")
def page(browser: Any) -> Iterator[Any]:
    yield from static_page(browser)


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def browser_stage1(
    page: Any,
    export: Path,
    plan: dict[str, Any],
    *,
    mode: str,
    key: bytes | None,
    ttp: bytes,
    use_worker: bool = True,
    organisation: str | None = None,
) -> tuple[bytes, dict[str, Any]]:
    made = page.evaluate(
        _MAKE,
        {
            "name": export.name,
            "data": _b64(export.read_bytes()),
            "plan": plan,
            "key": _b64(key) if key else None,
            "ttp": _b64(ttp),
            "mode": mode,
            "day": DAY.isoformat(),
            "useWorker": use_worker,
            "organisation": organisation,
        },
    )
    return base64.b64decode(made["zip"]), made


def _tables(data: bytes) -> tuple[dict[str, Any], dict[str, pl.DataFrame], list[str]]:
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        manifest = json.loads(archive.read("zorgbroker-stap1.json"))
        frames = {
            table: pl.read_csv(io.BytesIO(archive.read(member)), separator=";", infer_schema=False)
            for table, member in manifest["members"].items()
        }
        return manifest, frames, archive.namelist()


@pytest.fixture(scope="module")
def ttp(tmp_path_factory: pytest.TempPathFactory) -> TrustedThirdParty:
    third = TrustedThirdParty(tmp_path_factory.mktemp("ttp"))
    third.init(["nhr"])
    return third


CASES = [
    ("nhr-pmicd", "export.csv", 400),
    ("nhr-pmicd", "export.xlsx", 100),
    ("nivel-fysio", "export.zip", 60),
    ("nivel-fysio", "export.xlsx", 30),
    ("parabench-mi", "export.csv", 4),
]


def _as_windows_csv(export: Path) -> None:
    """The generated CSV as an older system writes it: Windows-1252, ',' between the values,
    CRLF line ends, surnames and BSNs with accents, dots and spaces, and a text with a comma,
    quotes and a semicolon (which the stage-1 CSV, separated by ';', must quote)."""
    lines = export.read_text(encoding="utf-8").splitlines()
    header = lines[0].split(";")
    bsn, surname = header.index("bsn"), header.index("achternaam")
    text = header.index("complicatie_type")
    out = [",".join(header)]
    for number, line in enumerate(lines[1:]):
        cells = line.split(";")
        assert not any("," in cell for cell in cells)
        if number % 3 == 0:
            cells[surname] = f"  Sévérine-{cells[surname]}  "
        if number % 4 == 0 and len(cells[bsn]) == 9:
            cells[bsn] = f"{cells[bsn][:4]}.{cells[bsn][4:6]}.{cells[bsn][6:]}"
        if number % 5 == 1:
            cells[text] = '"a ""b"", c;d"'
        out.append(",".join(cells))
    export.write_bytes("\r\n".join(out).encode("cp1252", errors="replace") + b"\r\n")


@pytest.mark.parametrize(
    ("dataset", "name", "rows", "use_worker"),
    [
        *((*case, True) for case in CASES),
        ("nhr-pmicd", "windows.csv", 90, True),
        # The archive deflated on the page itself, where no worker can start.
        ("nivel-fysio", "export.zip", 20, False),
    ],
)
def test_browser_and_python_make_the_same_stage1_file(
    page: Any,
    ttp: TrustedThirdParty,
    tmp_path: Path,
    dataset: str,
    name: str,
    rows: int,
    use_worker: bool,
) -> None:
    export = tmp_path / name
    made = intake_api.generate(dataset, rows=rows, out=export, error_rate=0.1, today=DAY)
    if name == "windows.csv":
        _as_windows_csv(export)
    spec = intake_api.load_dataset(dataset)
    public = ttp.seal_public_key()
    python_zip = tmp_path / "python.zip"
    write_stage1_file(
        export, dataset, spec.registry, python_zip, key=KEY, ttp_public_key=public, today=DAY,
        organisation=made.organisation,
    )  # fmt: skip
    plan = browser_plan(spec, ttp_public_key=public)
    data, answer = browser_stage1(
        page, export, plan, mode="production", key=KEY, ttp=public, use_worker=use_worker,
        organisation=made.organisation,
    )  # fmt: skip
    assert answer["fileName"] == export.stem + ".stap1.zip"

    want_manifest, want, want_names = _tables(python_zip.read_bytes())
    got_manifest, got, got_names = _tables(data)
    assert got_manifest == want_manifest
    assert sorted(got_names) == sorted(want_names)
    for table, expected in want.items():
        frame = got[table]
        assert frame.columns == expected.columns, table
        plain = [c for c in expected.columns if c != SEALED]
        assert _differences(frame.select(plain), expected.select(plain)) == [], table
        if SEALED in expected.columns:
            _same_bsns_sealed(ttp, frame, expected, spec.registry)

    browser_file = tmp_path / "browser.zip"
    browser_file.write_bytes(data)
    accepted = open_stage1_file(browser_file, spec, registry=spec.registry)
    assert accepted.manifest.source_key_fingerprint == want_manifest["source_key_fingerprint"]


def _differences(got: pl.DataFrame, want: pl.DataFrame) -> list[tuple[str, int, Any, Any]]:
    """(column, row, browser's value, Python's value) of the first difference in each column."""
    out = []
    for column in want.columns:
        same = got[column].eq_missing(want[column])
        if not same.all():
            row = int(same.not_().arg_true()[0])
            out.append((column, row + 1, got[column][row], want[column][row]))
    return out


def _same_bsns_sealed(
    ttp: TrustedThirdParty, got: pl.DataFrame, want: pl.DataFrame, registry: str
) -> None:
    sealed = got[SEALED]
    assert sealed.is_null().equals(want[SEALED].is_null())
    present = sealed.drop_nulls()
    assert present.len() > 0 and present.str.starts_with("zb1s.").all()
    # One ephemeral key per upload, and not Python's.
    ephemeral = present.str.split(".").list.get(1).unique()
    assert ephemeral.len() == 1
    assert ephemeral[0] != want[SEALED].drop_nulls().str.split(".").list.get(1)[0]
    rows = got.filter(pl.col(SEALED).is_not_null())
    opener = SealOpener(ttp.keys.seal_key())
    opened = opener.open(rows[SEALED], rows["bsn"], registry=registry)
    expected = want.filter(pl.col(SEALED).is_not_null())
    assert opened == opener.open(expected[SEALED], expected["bsn"], registry=registry)
    # The TTP takes them as a production batch: it opens each for its own row and registry.
    final = ttp.pseudonymise(registry, got["bsn"], source="01234567", sealed=sealed)
    assert final.null_count() == got["bsn"].null_count()


def test_a_refused_export_travels_as_its_manifest_only(
    page: Any, ttp: TrustedThirdParty, tmp_path: Path
) -> None:
    export = tmp_path / "export.csv"
    export.write_text("iets;anders\n1;2\n", encoding="utf-8")
    spec = intake_api.load_dataset("nhr-pmicd")
    python_zip = tmp_path / "python.zip"
    write_stage1_file(
        export, "nhr-pmicd", "nhr", python_zip, key=KEY, ttp_public_key=None, today=DAY
    )
    plan = browser_plan(spec, ttp_public_key=ttp.seal_public_key())
    data, answer = browser_stage1(
        page, export, plan, mode="production", key=KEY, ttp=ttp.seal_public_key()
    )
    want_manifest, _, want_names = _tables(python_zip.read_bytes())
    got_manifest, _, got_names = _tables(data)
    assert got_manifest["refused"] and answer["summary"]["refused"]
    assert got_manifest == want_manifest
    assert got_names == want_names == ["zorgbroker-stap1.json"]


def test_a_test_upload_uses_a_throw_away_key_and_seals_nothing(
    page: Any, ttp: TrustedThirdParty, tmp_path: Path
) -> None:
    export = tmp_path / "export.csv"
    intake_api.generate("nhr-pmicd", rows=20, out=export, today=DAY)
    spec = intake_api.load_dataset("nhr-pmicd")
    plan = browser_plan(spec, ttp_public_key=ttp.seal_public_key())
    first, answer = browser_stage1(page, export, plan, mode="test", key=KEY, ttp=b"")
    second, _ = browser_stage1(page, export, plan, mode="test", key=KEY, ttp=b"")
    assert answer["summary"]["sealed"] is False
    one, tables_one, _ = _tables(first)
    two, tables_two, _ = _tables(second)
    assert SEALED not in tables_one["main"].columns
    # A fresh key each time, never the one handed in: nothing links the two uploads.
    assert one["source_key_fingerprint"] != two["source_key_fingerprint"]
    from zorgbroker.pseudonymisation.method import fingerprint

    assert fingerprint(KEY) not in (one["source_key_fingerprint"], two["source_key_fingerprint"])
    assert set(tables_one["main"]["bsn"]).isdisjoint(tables_two["main"]["bsn"])
    path = tmp_path / "test.zip"
    path.write_bytes(first)
    open_stage1_file(path, spec, registry="nhr")
