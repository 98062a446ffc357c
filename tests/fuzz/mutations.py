"""Mutated uploads for fuzzing `check`: the three datasets' generated files, damaged the ways
real exports are (and some ways only an attacker would try).

A mutation takes a random source and an input (bytes and a file-name suffix) and returns a new
one. Container mutations act on the ZIP structure (of an archive or a workbook) and leave an
input that is no valid ZIP unchanged; text mutations act on a CSV file, or on one member of a
container (so they get past the ZIP checksums). Shared by the small hypothesis harness in
`tests/fuzz/` and the large run in `bench/bench_fuzz_check.py`.
"""

from __future__ import annotations

import datetime as dt
import io
import random
import re
import time
import traceback
import warnings
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

#: The day the seed files are made for and checked against.
TODAY = dt.date(2026, 6, 1)
DATASETS = ("nhr-pmicd", "nivel-fysio", "parabench-mi")
#: No input may take longer than this to check.
MAX_SECONDS = 20.0


@dataclass(frozen=True)
class Input:
    data: bytes
    #: ".csv", ".zip" or ".xlsx" (the file name's suffix: it names a lone CSV's table).
    suffix: str
    dataset: str
    organisation: str


@dataclass(frozen=True)
class SeedSpec:
    dataset: str
    rows: int
    suffix: str


SEEDS = (
    SeedSpec("nhr-pmicd", 12, ".csv"),
    SeedSpec("nhr-pmicd", 6, ".xlsx"),
    SeedSpec("nivel-fysio", 5, ".zip"),
    SeedSpec("nivel-fysio", 4, ".xlsx"),
    SeedSpec("parabench-mi", 4, ".csv"),
    SeedSpec("parabench-mi", 4, ".xlsx"),
)


def make_seeds(folder: Path) -> list[Input]:
    """The generated files the mutations start from, some records with seeded faults."""
    from zorgbroker.intake.generate import generate

    seeds = []
    for number, spec in enumerate(SEEDS):
        made = generate(
            spec.dataset,
            rows=spec.rows,
            out=folder / f"seed{number}{spec.suffix}",
            error_rate=0.3,
            seed=number,
            today=TODAY,
        )
        seeds.append(Input(made.path.read_bytes(), spec.suffix, spec.dataset, made.organisation))
    return seeds


# --- helpers --------------------------------------------------------------------------------


def _members(data: bytes) -> list[tuple[zipfile.ZipInfo, bytes]] | None:
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            return [(info, archive.read(info)) for info in archive.infolist()]
    except Exception:  # any damage: the mutation does not apply
        return None


def _zip(members: list[tuple[str, bytes]]) -> bytes:
    buffer = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # duplicate names are the point of some mutations
        with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
            for name, content in members:
                archive.writestr(name, content)
    return buffer.getvalue()


def _is_zip(data: bytes) -> bool:
    return data.startswith(b"PK")


def _text_member(members: list[tuple[zipfile.ZipInfo, bytes]], rng: random.Random) -> int:
    """Index of a member worth damaging: a CSV table, a worksheet or the shared strings."""
    wanted = [
        i
        for i, (info, _) in enumerate(members)
        if re.search(r"\.csv$|sheet\d*\.xml$|sharedStrings\.xml$", info.filename, re.IGNORECASE)
    ]
    return rng.choice(wanted or list(range(len(members))))


# --- text mutations (a CSV file, or one member of a container) ------------------------------


def flip_bytes(rng: random.Random, data: bytes) -> bytes:
    if not data:
        return data
    out = bytearray(data)
    for _ in range(rng.randint(1, 8)):
        at = rng.randrange(len(out))
        out[at] ^= rng.randint(1, 255)
    return bytes(out)


def truncate(rng: random.Random, data: bytes) -> bytes:
    return data[: rng.randrange(len(data) + 1)]


def _case_and_space(rng: random.Random, name: str) -> str:
    name = rng.choice([name, name.upper(), name.lower(), name.title(), name.swapcase()])
    return rng.choice(["", " ", "  ", "\t", "\u00a0"]) + name + rng.choice(["", " ", "\u00a0"])


def header_case_and_spacing(rng: random.Random, data: bytes) -> bytes:
    """Names in other case, with spaces around, sometimes one twice (differing in case)."""
    if data.startswith(b"<") or b"<sst" in data[:500]:
        # Shared strings of a workbook: the header names are among them.
        def change(match: re.Match[bytes]) -> bytes:
            if rng.random() < 0.3:
                text = _case_and_space(rng, match.group(2).decode("utf-8", "replace"))
                return match.group(1) + text.encode() + match.group(3)
            return match.group(0)

        return re.sub(rb"(<t[^>]*>)([^<]*)(</t>)", change, data)
    head, newline, rest = data.partition(b"\n")
    separator = b";" if head.count(b";") >= head.count(b",") else b","
    names = head.split(separator)
    changed = [
        _case_and_space(rng, n.decode("utf-8", "replace")).encode() if rng.random() < 0.4 else n
        for n in names
    ]
    if names and rng.random() < 0.3:
        changed.append(_case_and_space(rng, rng.choice(names).decode("utf-8", "replace")).encode())
    return separator.join(changed) + newline + rest


def quotes_and_separators(rng: random.Random, data: bytes) -> bytes:
    out = bytearray(data)
    for _ in range(rng.randint(1, 6)):
        if not out:
            break
        at = rng.randrange(len(out))
        choice = rng.randrange(6)
        if choice == 0:
            out[at:at] = b'"'
        elif choice == 1:
            out[at:at] = b'""'
        elif choice == 2:
            out[at : at + 1] = rng.choice([b";", b",", b"\t", b"|"])
        elif choice == 3:
            out[at:at] = rng.choice([b"\r", b"\r\n", b"\n", b"\n\n"])
        elif choice == 4:
            line_end = out.find(b"\n", at)
            out[at:at] = b'"' + b"x" * rng.randint(1, 100) + b'\n"'[: rng.randint(1, 3)]
            if line_end < 0:
                out += b'"'
        else:
            out = bytearray(bytes(out).replace(b";", rng.choice([b",", b"\t", b";;", b'";"'])))
    return bytes(out)


def encodings(rng: random.Random, data: bytes) -> bytes:
    text = data.decode("utf-8", "replace")
    choice = rng.randrange(6)
    if choice == 0:
        return text.encode("cp1252", "replace")
    if choice == 1:
        return text.encode(rng.choice(["utf-16", "utf-16-le", "utf-32"]))
    if choice == 2:
        return b"\xef\xbb\xbf" + data
    if choice == 3:
        # UTF-8 with a Windows-1252 byte further on (a file pasted together from two exports).
        at = rng.randrange(len(data) + 1)
        return data[:at] + rng.choice([b"\xe9", b"\x80", b"\xff", b"\xc3"]) + data[at:]
    if choice == 4:
        return ("é€ " + text).encode("utf-8") + "ë".encode("cp1252")
    return data.replace(b"\n", b"\x00\n") if rng.random() < 0.5 else data + b"\x1a"


def rows_shuffled(rng: random.Random, data: bytes) -> bytes:
    """Lines repeated, dropped, emptied or made very long."""
    lines = data.split(b"\n")
    if len(lines) < 2:
        return data
    at = rng.randrange(1, len(lines))
    choice = rng.randrange(5)
    if choice == 0:
        lines.insert(at, lines[at])
    elif choice == 1:
        del lines[at]
    elif choice == 2:
        lines.insert(at, rng.choice([b"", b";;;;", b"   ", b'""']))
    elif choice == 3:
        lines[at] = lines[at] + b"x" * rng.choice([1000, 70_000])
    else:
        lines = lines[:1]  # header only
    return b"\n".join(lines)


TEXT_MUTATIONS: tuple[Callable[[random.Random, bytes], bytes], ...] = (
    flip_bytes,
    truncate,
    header_case_and_spacing,
    quotes_and_separators,
    encodings,
    rows_shuffled,
)


# --- container mutations ------------------------------------------------------------------


def zip_rename(rng: random.Random, data: bytes) -> bytes:
    members = _members(data)
    if not members:
        return data
    at = rng.randrange(len(members))
    name = members[at][0].filename
    stem, dot, _ = name.rpartition(".")
    new = rng.choice(
        [
            name.upper(),
            f"map/{name}",
            f"{stem}.txt" if dot else f"{name}.csv",
            f"{stem}.CSV" if dot else name,
            f" {name}",
            f"__MACOSX/._{name}",
            f"../{name}",
            f"{stem}.zip" if dot else name,
            rng.choice(["episodes.csv", "praktijk.csv", "export.csv", "Blad1.csv"]),
        ]
    )
    renamed = [(info.filename, content) for info, content in members]
    renamed[at] = (new, members[at][1])
    return _zip(renamed)


def zip_duplicate(rng: random.Random, data: bytes) -> bytes:
    members = _members(data)
    if not members:
        return data
    info, content = rng.choice(members)
    copy = rng.choice([info.filename, info.filename.upper(), f"kopie/{info.filename}"])
    listed = [(i.filename, c) for i, c in members]
    listed.insert(rng.randrange(len(listed) + 1), (copy, content))
    return _zip(listed)


def zip_nested(rng: random.Random, data: bytes) -> bytes:
    """The whole file inside a ZIP archive (under a telling or a misleading name), or one
    member replaced by an archive holding it."""
    members = _members(data)
    if members and rng.random() < 0.5:
        at = rng.randrange(len(members))
        info, content = members[at]
        listed = [(i.filename, c) for i, c in members]
        listed[at] = (
            rng.choice([info.filename, f"{info.filename}.zip"]),
            _zip([(info.filename, content)]),
        )
        return _zip(listed)
    name = rng.choice(["export.csv", "export.zip", "werkmap.xlsx", "data.txt", "EXPORT.CSV"])
    return _zip([(name, data)])


def zip_drop_or_add(rng: random.Random, data: bytes) -> bytes:
    members = _members(data)
    if not members:
        return data
    listed = [(i.filename, c) for i, c in members]
    if rng.random() < 0.5 and len(listed) > 1:
        del listed[rng.randrange(len(listed))]
    else:
        extra = rng.choice(
            [
                ("leesmij.txt", b"x"),
                (".DS_Store", b"\0\0"),
                ("map/", b""),
                ("extra.csv", b"a;b\n1;2\n"),
            ]
        )
        listed.append(extra)
    return _zip(listed)


def member_text(rng: random.Random, data: bytes) -> bytes:
    """A text mutation applied inside one member of a container, which stays a valid ZIP."""
    members = _members(data)
    if not members:
        return data
    at = _text_member(members, rng)
    mutate = rng.choice(TEXT_MUTATIONS)
    listed = [(i.filename, c) for i, c in members]
    listed[at] = (listed[at][0], mutate(rng, listed[at][1]))
    return _zip(listed)


def csv_into_zip(rng: random.Random, data: bytes) -> bytes:
    """A lone CSV file sent as a ZIP archive (the usual way to make a large export smaller)."""
    if _is_zip(data):
        return data
    return _zip(
        [(rng.choice(["export.csv", "Export.CSV", "map/export.csv", "episodes.csv"]), data)]
    )


_INLINE_CELL = re.compile(rb'<c r="([A-Z]+[0-9]+)"([^>]*) t="inlineStr"><is><t>[^<]*</t></is></c>')
_ODD_VALUES = (
    b"1e400",
    b"-1",
    b"2958466",
    b"99999999999999999999",
    b"-700000",
    b"NaN",
    b"abc",
    b"1.5",
    b"",
    b"60",
    b"#N/A",
    b"2024-13-45T99:00:00",
    b"4294967296",
)


def xlsx_cell_types(rng: random.Random, data: bytes) -> bytes:
    """Cells of a workbook turned into numbers, booleans, errors, dates or shared-string
    references with odd values; sometimes every cell formatted as a date, time or duration."""
    members = _members(data)
    if not members or not any(i.filename.endswith("workbook.xml") for i, _ in members):
        return data

    def change(match: re.Match[bytes]) -> bytes:
        kind = rng.choice([b"n", b"n", b"b", b"e", b"d", b"str", b"s"])
        value = rng.choice(_ODD_VALUES)
        style = b' s="0"' if rng.random() < 0.7 else b""  # the style styles.xml may change
        return (
            b'<c r="'
            + match.group(1)
            + b'"'
            + style
            + b' t="'
            + kind
            + b'"><v>'
            + value
            + b"</v></c>"
        )

    listed = []
    for info, content in members:
        if re.search(r"worksheets/sheet\d*\.xml$", info.filename):
            cells = list(_INLINE_CELL.finditer(content))
            # A few cells only: one cell calamine refuses makes the whole sheet unreadable.
            for cell in sorted(
                rng.sample(cells, min(len(cells), rng.randint(1, 3))),
                key=lambda m: m.start(),
                reverse=True,
            ):
                content = content[: cell.start()] + change(cell) + content[cell.end() :]
        elif info.filename.endswith("styles.xml") and rng.random() < 0.5:
            fmt = rng.choice([b"14", b"22", b"46", b"21", b"49", b"164"])
            content = content.replace(
                b'<cellXfs count="1"><xf numFmtId="0"',
                b'<cellXfs count="1"><xf numFmtId="' + fmt + b'"',
            )
        listed.append((info.filename, content))
    return _zip(listed)


CONTAINER_MUTATIONS: tuple[Callable[[random.Random, bytes], bytes], ...] = (
    xlsx_cell_types,
    zip_rename,
    zip_duplicate,
    zip_nested,
    zip_drop_or_add,
    member_text,
    csv_into_zip,
)
MUTATIONS = TEXT_MUTATIONS + CONTAINER_MUTATIONS


def mutate(rng: random.Random, seed: Input, steps: int) -> tuple[Input, list[str]]:
    """`seed` after `steps` random mutations; sometimes checked as another dataset."""
    data = seed.data
    applied = []
    for _ in range(steps):
        mutation = rng.choice(MUTATIONS)
        data = mutation(rng, data)
        applied.append(mutation.__name__)
    suffix = seed.suffix
    if _is_zip(data) and suffix == ".csv":
        suffix = ".zip"
    dataset = seed.dataset
    if rng.random() < 0.1:
        dataset = rng.choice(DATASETS)
        applied.append(f"as {dataset}")
    return Input(data, suffix, dataset, seed.organisation), applied


# --- running one input ----------------------------------------------------------------------


@dataclass(frozen=True)
class Result:
    seconds: float
    #: The traceback of an exception that escaped `check`, or None.
    failure: str | None
    codes: frozenset[str]


def run_check(upload: Input, folder: Path) -> Result:
    """Check one input as `zorgbroker check` does (test mode); an escaping exception is a
    failure, interrupts excepted."""
    from zorgbroker.intake.service import check_file

    path = folder / f"upload{upload.suffix}"
    path.write_bytes(upload.data)
    start = time.perf_counter()
    try:
        outcome = check_file(path, upload.dataset, organisation=upload.organisation, today=TODAY)
    except (KeyboardInterrupt, SystemExit):
        raise
    except BaseException:  # anything escaping is what we look for
        return Result(time.perf_counter() - start, traceback.format_exc(), frozenset())
    codes = frozenset(outcome.report.messages["code"].to_list())
    return Result(time.perf_counter() - start, None, codes)
