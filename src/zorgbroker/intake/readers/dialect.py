"""The shape of a CSV file's first line: line ending, separator and column names.

Quoting follows what Polars does when it splits rows: every `"` toggles "inside quotes", so a
doubled quote `""` leaves the state unchanged. Counting quote parity therefore finds exactly the
line ends Polars will treat as row ends. A quote inside an unquoted field (`O"Brien`) would
break that count, so the batch reader first writes such fields in quoted form
(`quote_stray_quotes`), after which counting is exact again.
"""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass
from functools import cache

from zorgbroker.intake.readers import messages

#: Separators tried, in order of preference when they occur equally often.
SEPARATORS = (";", ",", "\t")
#: A header line longer than this means the file is not a table (or has no line ends at all).
MAX_HEADER_BYTES = 1024 * 1024
#: More columns than Excel allows is not a table export.
MAX_COLUMNS = 16_384
QUOTE = b'"'


def detect_eol(prefix: bytes) -> bytes:
    """`\\n` (which also covers `\\r\\n`) unless the file only ever uses a bare `\\r`."""
    if b"\n" in prefix or b"\r" not in prefix:
        return b"\n"
    return b"\r"


def first_record_end(data: bytes, eol: bytes, start: int = 0) -> int:
    """Index just past the first line end at or after `start` that is outside quotes, or -1.

    `start` must itself be outside quotes (the start of a record).
    """
    inside = False
    pos = start
    while True:
        end = data.find(eol, pos)
        if end < 0:
            return -1
        if data.count(QUOTE, pos, end) % 2:
            inside = not inside
        if not inside:
            return end + 1
        pos = end + 1


def last_record_end(data: bytes, eol: bytes, floor: int = 0) -> int:
    """Index just past the last line end in `data` that is outside quotes, or -1.

    `data` must start at a record boundary. Line ends before `floor` are known not to qualify
    (they were examined before), which keeps repeated calls on a growing buffer linear.
    """
    if QUOTE not in data:
        end = data.rfind(eol, floor)
        return end + 1 if end >= 0 else -1
    # Walk back over the quotes from the end: between two quotes the state is constant, so only
    # stretches that are outside quotes need a search for a line end.
    inside = data.count(QUOTE) % 2 == 1
    pos = len(data)
    while pos > floor:
        quote = data.rfind(QUOTE, floor, pos)
        if not inside:
            end = data.rfind(eol, max(quote + 1, floor), pos)
            if end >= 0:
                return end + 1
        if quote < 0:
            return -1
        pos = quote
        inside = not inside
    return -1


def split_near_middle(data: bytes, eol: bytes) -> int:
    """A record boundary strictly inside `data`, close to its middle, or -1 if it is one record."""
    middle = len(data) // 2
    inside = data.count(QUOTE, 0, middle) % 2 == 1
    # Forward from the middle to the first line end outside quotes...
    pos = middle
    while True:
        end = data.find(eol, pos)
        if end < 0 or end + 1 >= len(data):
            break
        if data.count(QUOTE, pos, end) % 2:
            inside = not inside
        if not inside:
            return end + 1
        pos = end + 1
    # ...or else back from the middle.
    end = last_record_end(data[:middle], eol)
    return end if 0 < end < len(data) else -1


def detect_separator(line: bytes) -> str:
    """The separator occurring most often outside quotes in the header line (`;` if none)."""
    outside = line.split(QUOTE)[::2]
    counts = {sep: sum(part.count(sep.encode()) for part in outside) for sep in SEPARATORS}
    best = max(SEPARATORS, key=lambda sep: counts[sep])
    return best if counts[best] else ";"


def parse_header(line: str, separator: str, *, table: str | None = None) -> list[str]:
    """Split a decoded header line into raw cell texts (quotes removed, `""` unescaped)."""
    line = line.rstrip("\r\n")
    if not line.strip():
        return []
    try:
        return next(csv.reader([line], delimiter=separator, quotechar='"', strict=False))
    except csv.Error:  # a name longer than the csv module's field limit (128 kB)
        raise messages.unreadable("de kopregel is geen rij kolomnamen.", table=table) from None


def column_names(cells: list[str], *, table: str | None = None) -> list[str]:
    """Column names from raw header cells: trimmed, BOM-free, unique regardless of case.

    Empty names at the end of the header are dropped (a trailing separator is a common export
    artefact; fields under them are ignored like any surplus field). An empty name between
    others becomes `kolom_<position>` so the engine can report it as an unknown column.
    """
    names = [cell.replace("\ufeff", "").strip() for cell in cells]
    while names and not names[-1]:
        names.pop()
    if not names:
        raise messages.unreadable("de kopregel bevat geen kolomnamen.", table=table)
    if len(names) > MAX_COLUMNS:
        raise messages.unreadable(
            f"de kopregel heeft {len(names)} kolommen, meer dan de {MAX_COLUMNS} die een "
            "tabel kan hebben.",
            table=table,
        )
    names = [name or f"kolom_{position}" for position, name in enumerate(names, start=1)]
    # The engine matches names to the specification ignoring case, so names that differ only
    # in case are as much the same column as identical ones.
    first_seen: dict[str, int] = {}
    for position, name in enumerate(names, start=1):
        key = name.casefold()
        if key in first_seen:
            first = first_seen[key]
            exact = names[first - 1] == name
            raise messages.duplicate_columns(first, position, exact=exact, table=table)
        first_seen[key] = position
    return names


@cache
def _clean_stretch(separator: bytes, eol: bytes) -> re.Pattern[bytes]:
    """From a record start: quoted fields (a quote opens one only at the start of a field) and
    any bytes but a quote. A match stops at the first quote that is not part of such a field."""
    ends = re.escape(separator) + re.escape(eol)
    # Possessive quantifiers: a quote that never closes must not make the engine try every way
    # of splitting the text before it (exponential backtracking).
    return re.compile(rb"(?:(?<![^" + ends + rb'])"(?:[^"]++|"")*+"|[^"]++)*+')


_QUOTED_FIELD = re.compile(rb'"(?:[^"]++|"")*+"')


@dataclass(frozen=True)
class UnclosedQuote:
    """A quoted field that never closes: `records` whole records come before its own."""

    records: int


def quote_stray_quotes(data: bytes, separator: bytes, eol: bytes) -> bytes | UnclosedQuote:
    """`data` (whole records) with every unquoted field that holds a quote written as a quoted
    field (`O"Brien` becomes `"O""Brien"`), so that Polars and the quote counting above read such
    a quote literally, as Excel and RFC 4180-tolerant readers do; or where a quoted field that
    never closes begins.

    Counting quotes alone would take the quote in `O"Brien` for the start of a field that runs
    on to the next quote, possibly thousands of records further: those records would be lost.
    Only the fields that need it are touched; a file without such quotes costs one regex pass.
    """
    clean = _clean_stretch(separator, eol)
    parts: list[bytes] = []
    done = 0
    pos = 0
    size = len(data)
    while True:
        stop = _match_end(clean.match(data, pos))
        if stop >= size:
            break
        before = data[stop - 1 : stop] if stop else b""
        if stop == 0 or before in (separator, eol):
            prefix = b"".join([*parts, data[done:stop]])
            return UnclosedQuote(_QUOTED_FIELD.sub(b"", prefix).count(eol))
        start = max(data.rfind(separator, 0, stop), data.rfind(eol, 0, stop)) + 1
        end = _field_end(data, stop, separator, eol)
        if QUOTE in data[start:stop]:
            # Text after a closing quote ("ab"c): Polars refuses the record, which names its row.
            pos = stop + 1
            continue
        field = data[start:end]
        parts += [data[done:start], QUOTE, field.replace(QUOTE, QUOTE + QUOTE), QUOTE]
        done = pos = end
    if not parts:
        return data
    parts.append(data[done:])
    return b"".join(parts)


def _match_end(match: re.Match[bytes] | None) -> int:
    # The pattern matches the empty string, so there always is a match.
    assert match is not None
    return match.end()


def _field_end(data: bytes, pos: int, separator: bytes, eol: bytes) -> int:
    """Where the unquoted field around `pos` ends (a line end's carriage return not included)."""
    ends = [i for i in (data.find(separator, pos), data.find(eol, pos)) if i >= 0]
    end = min(ends) if ends else len(data)
    if end > pos and data[end - 1 : end] == b"\r" and data[end : end + 1] in (eol, b""):
        end -= 1
    return end
