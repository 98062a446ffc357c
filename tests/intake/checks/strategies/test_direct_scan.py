"""The direct scan (one Polars query over a plain CSV file) reports exactly what the batch reader
reports, and files it cannot read as well go to the batch reader."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.intake.conftest import TODAY
from zorgbroker.intake.api import ROW
from zorgbroker.intake.checks.context import CheckOptions
from zorgbroker.intake.checks.messages import Messages
from zorgbroker.intake.checks.plan import build_plans
from zorgbroker.intake.checks.run import check_tables
from zorgbroker.intake.generate import generate
from zorgbroker.intake.readers import direct, open_upload
from zorgbroker.intake.readers.direct import DirectProbe
from zorgbroker.intake.report.json_report import to_json_dict
from zorgbroker.intake.spec import load_dataset

SMALL_BLOCK = 64 * 1024


@pytest.fixture(scope="module")
def clean(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    """A generated nhr-pmicd file with seeded faults of every kind."""
    path = tmp_path_factory.mktemp("direct") / "pmicd.csv"
    generate("nhr-pmicd", rows=300, out=path, error_rate=0.2, seed=11, today=TODAY)
    return path.read_bytes()


def both_ways(
    path: Path, *, chunk_bytes: int | None = None, accepted: bool = False
) -> tuple[bool, dict[str, Any], dict[str, Any]]:
    """Whether the direct scan was offered, and the report (with the accepted rows when asked)
    through it and through the batch reader."""
    spec = load_dataset("nhr-pmicd")
    plans = build_plans(spec)
    options = CheckOptions(today=TODAY, organisation="01234567", collect_accepted=accepted)
    extra = {} if chunk_bytes is None else {"chunk_bytes": chunk_bytes}
    results = []
    offered = False
    for use_direct in (True, False):
        upload = open_upload(path, **extra)  # type: ignore[arg-type]
        if use_direct:
            offered = upload.tables["main"].direct is not None
        else:
            upload.tables["main"].direct = None
        outcome = check_tables(upload, spec, plans, options, Messages(spec))
        result = to_json_dict(outcome.report)
        result["accepted_rows"] = {
            name: frame.sort(ROW).to_dicts() for name, frame in outcome.accepted.items()
        }
        results.append(result)
    return offered, results[0], results[1]


def lines_of(data: bytes) -> list[bytes]:
    return data.rstrip(b"\n").split(b"\n")


def pad_some(data: bytes) -> bytes:
    out = lines_of(data)
    for k in range(1, len(out), 7):
        out[k] = out[k].replace(b";", b" ; ", 3)
    return b"\n".join(out) + b"\n"


def blank_cells(data: bytes) -> bytes:
    out = lines_of(data)
    for k in range(2, len(out), 9):
        cells = out[k].split(b";")
        cells[2] = b"   "
        cells[10] = b"\t"
        out[k] = b";".join(cells)
    return b"\n".join(out) + b"\n"


def blank_lines(data: bytes) -> bytes:
    out = lines_of(data)
    out.insert(5, b"")
    out.insert(9, b";;;;")
    return b"\n".join(out) + b"\n\n;;;\n\n"


def ragged(data: bytes) -> bytes:
    out = lines_of(data)
    out[3] = out[3].rsplit(b";", 4)[0]
    out[4] = out[4] + b";extra;cells"
    return b"\n".join(out) + b"\n"


def duplicated(data: bytes) -> bytes:
    out = lines_of(data)
    return b"\n".join([*out, *out[1:6]]) + b"\n"


def unicode_edges(data: bytes) -> bytes:
    out = lines_of(data)
    out[6] = out[6].replace(b";", "\u00a0;".encode(), 1)
    out[7] = out[7].replace(b";", ";\u3000".encode(), 2)
    return b"\n".join(out) + b"\n"


def accented_names(data: bytes) -> bytes:
    out = lines_of(data)
    for k in range(1, len(out), 5):
        cells = out[k].split(b";")
        cells[2] = "Trần Nguyễn-Dvořák".encode()
        out[k] = b";".join(cells)
    return b"\n".join(out) + b"\n"


def dmy_dates(data: bytes) -> bytes:
    import re

    return re.sub(rb"(\d{4})-(\d{2})-(\d{2})", rb"\3-\2-\1", data)


def shouted_header(data: bytes) -> bytes:
    header, _, rest = data.partition(b"\n")
    return header.upper().replace(b"OVERLIJDENSDATUM", b"notitie") + b"\n" + rest


def no_final_newline(data: bytes) -> bytes:
    return data.rstrip(b"\n")


def space_at_the_end(data: bytes) -> bytes:
    return data.rstrip(b"\n") + b" "


def quoted(data: bytes) -> bytes:
    """Every cell quoted, as some exports do; some hold the separator or an escaped quote."""
    out = []
    for k, line in enumerate(lines_of(data)):
        cells = [b'"' + cell + b'"' for cell in line.split(b";")]
        if k % 4 == 1:
            cells[2] = b'"van ""de"" Berg; jr."'
        if k % 6 == 2:
            cells[3] = b'" ' + cells[3][1:]
        out.append(b";".join(cells))
    return b"\n".join(out) + b"\n"


def some_quoted(data: bytes) -> bytes:
    out = lines_of(data)
    for k in range(1, len(out), 3):
        cells = out[k].split(b";")
        cells[2] = b'"' + cells[2] + b'"'
        out[k] = b";".join(cells)
    return b"\n".join(out) + b"\n"


ELIGIBLE: dict[str, Callable[[bytes], bytes]] = {
    "all cells quoted": quoted,
    "some cells quoted": some_quoted,
    "clean": lambda data: data,
    "padded": pad_some,
    "blank cells": blank_cells,
    "blank lines": blank_lines,
    "ragged rows": ragged,
    "repeated rows": duplicated,
    "unicode white space": unicode_edges,
    "accented names": accented_names,
    "day-month-year dates": dmy_dates,
    "header in capitals, an extra column": shouted_header,
    "crlf": lambda data: data.replace(b"\n", b"\r\n"),
    "byte order mark": lambda data: b"\xef\xbb\xbf" + data,
    "no final newline": no_final_newline,
    "a space at the very end": space_at_the_end,
}


@pytest.mark.parametrize("change", list(ELIGIBLE), ids=list(ELIGIBLE))
def test_same_report_as_the_batch_reader(tmp_path: Path, clean: bytes, change: str) -> None:
    path = tmp_path / "upload.csv"
    path.write_bytes(ELIGIBLE[change](clean))
    offered, direct, batch = both_ways(path)
    assert offered
    assert direct == batch


def test_progress_runs_up_to_the_file_size(tmp_path: Path, clean: bytes) -> None:
    path = tmp_path / "upload.csv"
    path.write_bytes(clean + b"\n".join(lines_of(clean)[1:] * 400) + b"\n")
    seen: list[tuple[int, int]] = []
    spec = load_dataset("nhr-pmicd")
    options = CheckOptions(today=TODAY, progress=lambda done, total: seen.append((done, total)))
    upload = open_upload(path)
    assert upload.tables["main"].direct is not None
    check_tables(upload, spec, build_plans(spec), options, Messages(spec))
    size = path.stat().st_size
    assert len(seen) >= 2
    assert [done for done, _ in seen] == sorted(done for done, _ in seen)
    assert seen[-1] == (size, size)


def test_same_accepted_records(tmp_path: Path, clean: bytes) -> None:
    path = tmp_path / "upload.csv"
    path.write_bytes(blank_lines(pad_some(clean)))
    offered, direct, batch = both_ways(path, accepted=True)
    assert offered
    assert direct["accepted_rows"]["main"]
    assert direct == batch


@pytest.mark.parametrize(
    ("change", "why"),
    [
        (lambda data: data.replace(b";V;", b';"V\nV";', 3), "a line break inside quotes"),
        (lambda data: data.replace(b";V;", b';"V;', 1), "a quote never closed"),
        (lambda data: data.decode().encode("cp1252", errors="replace") + b"\xd8\n", "cp1252"),
        (lambda data: data.replace(b"\n", b"\r"), "bare carriage returns"),
    ],
)
def test_files_the_batch_reader_reads(
    tmp_path: Path, clean: bytes, change: Callable[[bytes], bytes], why: str
) -> None:
    path = tmp_path / "upload.csv"
    path.write_bytes(change(clean))
    offered, direct, batch = both_ways(path)
    assert not offered, why
    assert direct == batch


def test_invalid_utf8_far_into_the_file_falls_back(tmp_path: Path, clean: bytes) -> None:
    """The opening scan stops early once it has seen data and non-ASCII; Polars then meets the
    bad byte, and the batch reader names it (BF-009)."""
    head, _, rest = clean.partition(b"\n")
    body = lines_of(rest)
    body[0] = body[0].replace(b";", "é;".encode(), 1)
    filler = b"\n".join(body * 8)
    path = tmp_path / "upload.csv"
    path.write_bytes(head + b"\n" + filler + b"\n" + body[1].replace(b";", b"\xff;", 1) + b"\n")
    offered, direct, batch = both_ways(path, chunk_bytes=SMALL_BLOCK)
    assert offered
    assert direct == batch
    assert [m["code"] for m in direct["messages"]] == ["BF-009"]


# --- the probe on its own -------------------------------------------------------------------


def probe(*blocks: bytes, block_bytes: int = 8) -> DirectProbe:
    found = DirectProbe(block_bytes)
    for block in blocks:
        found.feed(block, ";")
    found.finish()
    return found


@pytest.mark.parametrize(
    ("blocks", "padded"),
    [
        ((b"a;b\n1;2\n",), False),
        ((b"a;b\n1 ;2\n",), True),
        ((b"a;b\n1; 2\n",), True),
        ((b"a;b\n 1;2\n",), True),
        ((b"a;b\n1;2 \n",), True),
        ((b"a;b\n1;2 \r\n",), True),
        ((b"a;b\r\n1;2\r\n",), False),
        ((b"a;b\n1;\r2\n",), True),
        ((b"a;b\n1;2\t\n",), True),
        ((b"a;b\nx y;2\n",), False),
        ((b"a;b\n1;", b" 2\n"), True),
        ((b"a;b\n1 ", b";2\n"), True),
        ((b"a;b\n1;2\r", b"3;4\n"), True),
        ((b"a;b\n1;2\n", b"3;4 "), True),
        (("a;b\nTrần;2\n".encode(),), False),
        (("a;b\n1;2\u00a0\n".encode(),), True),
        (("a;b\n1;\u2009x\n".encode(),), True),
        (("a;b\n1;x\u2009".encode(),), True),
        ((b"a;b\n1;x\xe2",), True),
        (("a;b\n1;x\u2019s;\u20ac\n".encode(),), False),
    ],
)
@pytest.mark.parametrize("searched", ["by substring", "vectorised"])
def test_probe_finds_white_space_at_cell_edges(
    monkeypatch: pytest.MonkeyPatch, blocks: tuple[bytes, ...], padded: bool, searched: str
) -> None:
    if searched == "vectorised":
        monkeypatch.setattr(direct, "_SMALL_BLOCK_BYTES", 0)
    found = probe(*blocks, block_bytes=64)
    assert found.eligible
    assert found.padded is padded


@pytest.mark.parametrize("searched", ["by substring", "vectorised"])
def test_probe_refuses_records_across_lines_and_long_lines(
    monkeypatch: pytest.MonkeyPatch, searched: str
) -> None:
    if searched == "vectorised":
        monkeypatch.setattr(direct, "_SMALL_BLOCK_BYTES", 0)
    assert probe(b'a;b\n"1";2\n', block_bytes=64).quoted
    assert probe(b'a;b\n"1";"2', b'"\n"3";4\n', block_bytes=64).eligible
    assert probe(b'a;b\n"1', b'";2\n', block_bytes=64).eligible
    assert not probe(b'a;b\n"1', b'\n";2\n', block_bytes=64).eligible
    assert not probe(b'a;b\n"1\n";2\n', block_bytes=64).eligible
    assert not probe(b'a;b\n"1;2\n', block_bytes=64).eligible
    assert not probe(b'a;b\n"1;2', block_bytes=64).eligible
    assert not probe(b"a;b\n1;2\n", b"xxxxxxxx", block_bytes=8).eligible
    assert probe(b"a;b\n1;2\n", b"xxx", block_bytes=8).eligible


def test_probing_a_large_file_starts_no_idle_threads(tmp_path: Path) -> None:
    """NumPy, loaded for large blocks, must not bring OpenBLAS threads that spin beside Polars
    (on two cores they took 3.4 % of a million-row check's CPU samples)."""
    import os
    import subprocess
    import sys

    script = (
        "import os\n"
        "from zorgbroker.intake.readers import direct\n"
        "before = len(os.listdir('/proc/self/task'))\n"
        "direct._SMALL_BLOCK_BYTES = 0\n"
        "probe = direct.DirectProbe(block_bytes=64)\n"
        "probe.feed(b'a;b\\n1; 2\\n', ';')\n"
        "assert probe.padded\n"
        "import numpy\n"
        "print(before, len(os.listdir('/proc/self/task')))\n"
    )
    env = {k: v for k, v in os.environ.items() if not k.endswith("_NUM_THREADS")}
    done = subprocess.run(
        [sys.executable, "-c", script], env=env, capture_output=True, text=True, check=True
    )
    before, after = map(int, done.stdout.split())
    assert after == before
