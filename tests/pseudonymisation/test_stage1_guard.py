"""The first gate at the registry's door (`stage1_guard`): stage-1 files pass on their first KB,
anything else (a raw CSV, XLSX or ZIP of tables) is refused with BF-020 before it is written."""

from __future__ import annotations

import datetime as dt
import io
import zipfile
from pathlib import Path

import pytest

from zorgbroker.intake.api import generate, load_dataset
from zorgbroker.pseudonymisation.source_side import make_stage1
from zorgbroker.pseudonymisation.stage1_guard import MAX_HEAD_BYTES, Stage1Guard, Verdict
from zorgbroker.pseudonymisation.stage1_manifest import FINDINGS_COLUMN, MANIFEST_NAME
from zorgbroker.pseudonymisation.stage1_reader import Stage1Refused

TODAY = dt.date(2026, 11, 22)
EXPORTS = [("nhr-pmicd", "csv"), ("nivel-fysio", "zip"), ("parabench-mi", "csv")]


def fed(data: bytes, dataset: str, *, chunk: int = 1000, name: str = "bestand.zip") -> int:
    """Feed `data` in chunks as it would arrive; the bytes fed when the guard accepted it."""
    guard = Stage1Guard(load_dataset(dataset), name)
    for start in range(0, len(data), chunk):
        if guard.feed(data[start : start + chunk]) is Verdict.ACCEPTED:
            return start + chunk
        assert len(guard.held) <= MAX_HEAD_BYTES + 1
    guard.finish()
    raise AssertionError("finish() of a waiting guard must refuse")


def refusal(data: bytes, dataset: str = "nhr-pmicd", *, chunk: int = 1000) -> str:
    with pytest.raises(Stage1Refused) as refused:
        fed(data, dataset, chunk=chunk, name="export.csv")
    assert refused.value.code == "BF-020"
    assert refused.value.detail.startswith("export.csv: ")
    return refused.value.detail


def export_of(tmp_path: Path, dataset: str, ext: str, error_rate: float = 0.0) -> Path:
    export = tmp_path / f"export.{ext}"
    generate(dataset, rows=300, out=export, error_rate=error_rate, seed=5, today=TODAY)
    return export


@pytest.mark.parametrize(("dataset", "ext"), EXPORTS)
@pytest.mark.parametrize("mode", ["test", "production"])
def test_stage1_files_pass_on_their_first_kb(
    tmp_path: Path, dataset: str, ext: str, mode: str
) -> None:
    export = export_of(tmp_path, dataset, ext)
    made = make_stage1(
        export,
        dataset,
        tmp_path / "stap1.zip",
        mode="production" if mode == "production" else "test",
        home=tmp_path / "home",
        today=TODAY,
    )
    data = made.path.read_bytes()
    assert fed(data, dataset) <= 16 * 1024
    # However the body is cut up, even one byte at a time at first.
    assert fed(data, dataset, chunk=1) <= 16 * 1024
    assert fed(data, dataset, chunk=len(data)) == len(data)
    # nivel's tables each pass as the first member too (the writer's order is not relied on).
    with zipfile.ZipFile(made.path) as archive:
        for member in archive.namelist():
            single = io.BytesIO()
            with zipfile.ZipFile(single, "w", zipfile.ZIP_DEFLATED) as out:
                out.writestr(member, archive.read(member))
            assert fed(single.getvalue(), dataset) > 0


def test_a_refused_export_holds_only_the_manifest_and_passes(tmp_path: Path) -> None:
    export = export_of(tmp_path, "nhr-pmicd", "csv")
    export.write_bytes(b"geen;kopregel\n1;2\n")
    made = make_stage1(
        export, "nhr-pmicd", tmp_path / "stap1.zip", mode="test", home=tmp_path, today=TODAY
    )
    with zipfile.ZipFile(made.path) as archive:
        assert archive.namelist()[0] == MANIFEST_NAME
    assert fed(made.path.read_bytes(), "nhr-pmicd") > 0


@pytest.mark.parametrize("encoding", ["utf-8", "cp1252"])
def test_a_raw_csv_is_refused_on_its_first_byte(tmp_path: Path, encoding: str) -> None:
    export = export_of(tmp_path, "nhr-pmicd", "csv")
    text = export.read_text(encoding="utf-8").replace("achternaam", "achternaam_é", 1)
    data = text.encode(encoding, errors="replace")
    assert "geen stap-1-archief (ZIP)" in refusal(data, chunk=1)
    assert "geen stap-1-archief (ZIP)" in refusal(data)


def test_a_raw_xlsx_is_refused(tmp_path: Path) -> None:
    data = export_of(tmp_path, "nhr-pmicd", "xlsx").read_bytes()
    assert data.startswith(b"PK\x03\x04")  # a ZIP too, but not of stage-1 members
    assert "begint niet met een stap-1-tabel" in refusal(data)


def test_a_raw_zip_of_tables_with_the_stage1_member_names_is_refused(tmp_path: Path) -> None:
    data = export_of(tmp_path, "nivel-fysio", "zip").read_bytes()
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        assert archive.namelist()[0] == "praktijk.csv"
    assert "tabel praktijk heeft geen stap-1-kopregel" in refusal(data, "nivel-fysio")


@pytest.mark.parametrize("compression", [zipfile.ZIP_DEFLATED, zipfile.ZIP_STORED])
@pytest.mark.parametrize("encoding", ["utf-8", "cp1252"])
def test_a_raw_csv_zipped_under_a_stage1_name_is_refused(
    tmp_path: Path, compression: int, encoding: str
) -> None:
    export = export_of(tmp_path, "nhr-pmicd", "csv")
    raw = export.read_text(encoding="utf-8").encode(encoding, errors="replace")
    bundle = io.BytesIO()
    with zipfile.ZipFile(bundle, "w", compression) as archive:
        archive.writestr("main.csv", raw)
    assert "tabel main heeft geen stap-1-kopregel" in refusal(bundle.getvalue())
    # Nor does a findings column make a header with a column the source drops acceptable.
    header, rest = raw.split(b"\n", 1)
    sneaky = io.BytesIO()
    with zipfile.ZipFile(sneaky, "w", compression) as archive:
        archive.writestr("main.csv", header + f";{FINDINGS_COLUMN}\n".encode() + rest)
    assert "tabel main heeft geen stap-1-kopregel" in refusal(sneaky.getvalue())


class _Unseekable(io.RawIOBase):
    """A pipe-like sink: zipfile then writes each member with a data descriptor."""

    def __init__(self) -> None:
        self.data = bytearray()

    def writable(self) -> bool:
        return True

    def write(self, b: bytes) -> int:  # type: ignore[override]
        self.data += b
        return len(b)


def test_a_zip_with_data_descriptors_is_judged_by_its_first_line(tmp_path: Path) -> None:
    made = make_stage1(
        export_of(tmp_path, "nhr-pmicd", "csv"),
        "nhr-pmicd",
        tmp_path / "stap1.zip",
        mode="test",
        home=tmp_path,
        today=TODAY,
    )
    streamed = _Unseekable()
    with zipfile.ZipFile(made.path) as source, zipfile.ZipFile(streamed, "w") as out:
        for member in source.namelist():
            with out.open(member, "w") as sink:
                sink.write(source.read(member))
    data = bytes(streamed.data)
    assert data[6] & 0x08  # sizes follow the data, not in the local header
    assert fed(data, "nhr-pmicd") > 0
    raw = _Unseekable()
    with zipfile.ZipFile(raw, "w", zipfile.ZIP_DEFLATED) as out, out.open("main.csv", "w") as sink:
        sink.write((tmp_path / "export.csv").read_bytes())
    assert "geen stap-1-kopregel" in refusal(bytes(raw.data))


def test_a_short_or_odd_start_waits_for_more_or_is_refused_clearly(tmp_path: Path) -> None:
    spec = load_dataset("nhr-pmicd")
    guard = Stage1Guard(spec, "stap1.zip")
    assert guard.feed(b"PK\x03") is Verdict.WAIT
    assert guard.feed(b"\x04" + b"\x00" * 20) is Verdict.WAIT  # fewer than 30 bytes: wait
    with pytest.raises(Stage1Refused, match="geen stap-1-archief"):
        guard.finish()  # the body ended there
    with pytest.raises(Stage1Refused, match="geen stap-1-archief"):
        Stage1Guard(spec, "leeg.zip").finish()
    with pytest.raises(Stage1Refused, match="geen stap-1-archief"):
        Stage1Guard(spec, "x.zip").feed(b"PK\x05\x06")  # an empty ZIP's end record
    # A member named as a table whose first line never ends: refused once the guard holds its
    # most, not held on to.
    endless = io.BytesIO()
    with zipfile.ZipFile(endless, "w", zipfile.ZIP_STORED) as archive:
        archive.writestr("main.csv", b"a" * (MAX_HEAD_BYTES * 2))
    detail = refusal(endless.getvalue(), chunk=50_000)
    assert "kopregel van tabel main is niet te lezen" in detail
    # Not deflate where deflate is said: refused, not a crash.
    broken = bytearray(endless.getvalue()[:200])
    broken[8] = 8
    assert "geen stap-1-kopregel" in refusal(bytes(broken))


def test_the_guard_holds_no_more_than_its_head(tmp_path: Path) -> None:
    guard = Stage1Guard(load_dataset("nhr-pmicd"), "stap1.zip")
    endless = io.BytesIO()
    with zipfile.ZipFile(endless, "w", zipfile.ZIP_STORED) as archive:
        archive.writestr("main.csv", b"a" * (MAX_HEAD_BYTES * 4))
    with pytest.raises(Stage1Refused):
        guard.feed(endless.getvalue())
    assert len(guard.held) == MAX_HEAD_BYTES + 1
