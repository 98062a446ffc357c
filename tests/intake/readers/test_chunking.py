"""Large files are read in blocks cut at record ends; the cuts must never show in the result."""

from __future__ import annotations

import csv
import io
import tempfile
from pathlib import Path

from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from tests.intake.readers.conftest import open_and_read, read_error, read_table, rows, zip_of
from zorgbroker.intake.readers import Limits, open_upload
from zorgbroker.intake.readers.dialect import last_record_end, split_near_middle

CELL = st.text(
    alphabet=st.sampled_from(["a", "Z", "1", " ", ";", ",", '"', "\n", "é", "€"]), max_size=8
)


def to_csv(
    header: list[str], body: list[list[str]], *, line_end: str = "\n", encoding: str = "utf-8"
) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out, delimiter=";", lineterminator=line_end, quoting=csv.QUOTE_MINIMAL)
    writer.writerow(header)
    writer.writerows(body)
    return out.getvalue().encode(encoding)


def expected(body: list[list[str]]) -> list[tuple[str | None, ...]]:
    """What the reader promises: blank cells null, blank rows at the end gone."""
    result = [tuple(None if not cell.strip() else cell for cell in row) for row in body]
    while result and all(cell is None for cell in result[-1]):
        result.pop()
    return result


@st.composite
def tables(draw: st.DrawFn) -> tuple[list[str], list[list[str]]]:
    width = draw(st.integers(min_value=1, max_value=4))
    header = [f"kolom{index}" for index in range(width)]
    body = draw(st.lists(st.lists(CELL, min_size=width, max_size=width), min_size=1, max_size=25))
    return header, body


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    table=tables(),
    chunk=st.integers(min_value=1, max_value=64),
    crlf=st.booleans(),
    encoding=st.sampled_from(["utf-8", "utf-8-sig", "cp1252"]),
)
def test_chunked_read_equals_one_shot_read(
    table: tuple[list[str], list[list[str]]], chunk: int, crlf: bool, encoding: str
) -> None:
    header, body = table
    if not any(cell.strip() for row in body for cell in row):
        return  # header only: BF-005, covered elsewhere
    data = to_csv(header, body, line_end="\r\n" if crlf else "\n", encoding=encoding)
    # Windows-1252 text can by chance hold valid UTF-8 ("é€€" is E9 80 80, a CJK character);
    # the reader rightly calls that mixed, so such cases are not this test's business.
    assume(encoding != "cp1252" or data.decode("utf-8", errors="ignore").isascii())
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "export.csv"
        path.write_bytes(data)
        whole = read_table(open_upload(path))
        pieces = read_table(open_upload(path, chunk_bytes=chunk, limits=Limits(batch_rows=4)))
        archived = zip_of(Path(folder) / "export.zip", {"export.csv": data})
        from_zip = read_table(open_upload(archived, chunk_bytes=chunk))
    want = expected(body)
    assert rows(whole) == want
    assert rows(pieces) == want
    assert rows(from_zip) == want


def test_quoted_newline_exactly_at_a_block_boundary(tmp_path: Path) -> None:
    body = [["x" * n, "regel\nnog een regel", "y"] for n in range(40)]
    data = to_csv(["a", "b", "c"], body)
    path = tmp_path / "export.csv"
    path.write_bytes(data)
    # The first block starts after the header; this size ends it right after the first
    # newline inside quotes, where a naive reader would cut the record in two.
    exact = data.index(b"regel\n") + len(b"regel\n") - len(b"a;b;c\n")
    for chunk in sorted({1, 2, 3, exact - 1, exact, exact + 1, *range(5, 80, 7)}):
        _, frame = open_and_read(path, chunk_bytes=chunk)
        assert rows(frame) == expected(body), chunk


def test_multibyte_character_split_by_a_block_boundary(tmp_path: Path) -> None:
    body = [["€" * n, "ë"] for n in range(1, 30)]
    path = tmp_path / "export.csv"
    path.write_bytes(to_csv(["a", "b"], body))
    for chunk in range(1, 20):
        _, frame = open_and_read(path, chunk_bytes=chunk)
        assert rows(frame) == expected(body)


def test_many_short_rows_are_parsed_within_the_row_budget(tmp_path: Path) -> None:
    # 20,000 empty lines between two rows: parsing them at once would give a frame of 20,000
    # rows, more than the budget allows; the reader splits the block and keeps every row.
    data = b"a;b\n1;2\n" + b"\n" * 20_000 + b"3;4\n"
    path = tmp_path / "export.csv"
    path.write_bytes(data)
    upload = open_upload(path, limits=Limits(batch_rows=1000))
    batches = list(upload.tables["main"].batches())
    assert max(batch.height for batch in batches) <= 1000
    frame = read_table(upload)
    assert frame.height == 20_002
    assert rows(frame.head(1)) == [("1", "2")]
    assert rows(frame.tail(1)) == [("3", "4")]


def test_a_malformed_row_is_named_by_number(tmp_path: Path) -> None:
    lines = [b"a;b"] + [b"%d;ok" % i for i in range(1, 500)]
    lines[321] = b'321;"open"dicht'
    path = tmp_path / "export.csv"
    path.write_bytes(b"\n".join(lines) + b"\n")
    for chunk in (64, 1 << 20):
        error = read_error(path, chunk_bytes=chunk)
        assert error.code == "BF-001"
        assert "rij 321 " in error.message


def test_a_quote_that_is_never_closed_ends_in_bf001_not_in_memory(tmp_path: Path) -> None:
    data = b'a;b\n1;2\n3;"open\n' + b"4;5\n" * 100_000
    path = tmp_path / "export.csv"
    path.write_bytes(data)
    limits = Limits(max_field_bytes=1024)
    error = read_error(path, chunk_bytes=4096, limits=limits)
    assert error.code == "BF-001"
    assert "rij 2" in error.message


def test_a_one_megabyte_field_is_kept_whole(tmp_path: Path) -> None:
    big = "x" * (1024 * 1024 + 10)
    path = tmp_path / "export.csv"
    path.write_bytes(to_csv(["a", "b"], [["1", big], ["2", "klein"]]))
    _, frame = open_and_read(path, chunk_bytes=64 * 1024)
    assert frame["b"].to_list() == [big, "klein"]


def test_last_record_end_respects_quotes() -> None:
    assert last_record_end(b'a\n"b\nc"', b"\n") == 2
    assert last_record_end(b'a\n"b\nc"\n', b"\n") == 8
    assert last_record_end(b'"a\nb', b"\n") == -1
    assert last_record_end(b'x""\ny', b"\n") == 4


def test_split_near_middle_finds_a_boundary_or_none() -> None:
    data = b"1\n2\n3\n4\n"
    cut = split_near_middle(data, b"\n")
    assert 0 < cut < len(data) and data[cut - 1 : cut] == b"\n"
    assert split_near_middle(b'"1\n2\n3"\n', b"\n") == -1
