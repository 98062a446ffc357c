"""Character sets: UTF-8 with or without BOM, Windows-1252 (BW-002), and mixtures (BF-009)."""

from __future__ import annotations

from pathlib import Path

from hypothesis import example, given, settings
from hypothesis import strategies as st

from tests.intake.readers.conftest import open_and_read, read_error, rows, zip_of
from zorgbroker.intake.readers import open_upload
from zorgbroker.intake.readers.encoding import EncodingScan

NAMES = "naam;plaats\nRenée;Zoë\nÉlodie;Curaçao\n"


def write(tmp_path: Path, data: bytes) -> Path:
    path = tmp_path / "export.csv"
    path.write_bytes(data)
    return path


def test_utf8_without_bom(tmp_path: Path) -> None:
    upload, frame = open_and_read(write(tmp_path, NAMES.encode()))
    assert upload.info.encoding == "utf-8"
    assert upload.warnings == []
    assert rows(frame) == [("Renée", "Zoë"), ("Élodie", "Curaçao")]


def test_utf8_with_bom(tmp_path: Path) -> None:
    upload, frame = open_and_read(write(tmp_path, b"\xef\xbb\xbf" + NAMES.encode()))
    assert upload.info.encoding == "utf-8-sig"
    assert upload.tables["main"].header == ["naam", "plaats"]
    assert rows(frame) == [("Renée", "Zoë"), ("Élodie", "Curaçao")]


def test_windows_1252_is_read_and_warned_about(tmp_path: Path) -> None:
    upload, frame = open_and_read(write(tmp_path, (NAMES + "€ 5;‘x’\n").encode("cp1252")))
    assert upload.info.encoding == "cp1252"
    assert [w.code for w in upload.warnings] == ["BW-002"]
    assert rows(frame) == [("Renée", "Zoë"), ("Élodie", "Curaçao"), ("€ 5", "‘x’")]


def test_windows_1252_found_far_into_a_file(tmp_path: Path) -> None:
    data = b"a;b\n" + b"x;y\n" * 50_000 + "é;ë\n".encode("cp1252")
    upload, frame = open_and_read(write(tmp_path, data), chunk_bytes=4096)
    assert upload.info.encoding == "cp1252"
    assert rows(frame)[-1] == ("é", "ë")


def test_bytes_windows_leaves_undefined_still_read(tmp_path: Path) -> None:
    # 0x81 has no character in Windows-1252; Windows maps it to the C1 control U+0081.
    upload, frame = open_and_read(write(tmp_path, b"a;b\n\x81;\xe9\n"))
    assert upload.info.encoding == "cp1252"
    assert rows(frame) == [("\x81", "é")]


def test_mixed_utf8_and_windows_1252_is_bf009(tmp_path: Path) -> None:
    data = "naam\nRenée\n".encode() + "Zoë\n".encode("cp1252")
    error = read_error(write(tmp_path, data))
    assert error.code == "BF-009"
    assert error.info is not None and error.info.format == "csv"


def test_mixture_far_apart_is_still_found(tmp_path: Path) -> None:
    data = "naam\nRenée\n".encode("cp1252") + b"x\n" * 100_000 + "Zoë\n".encode()
    assert read_error(write(tmp_path, data), chunk_bytes=1024).code == "BF-009"


def test_mixture_late_in_an_archive_member_is_found_while_streaming(tmp_path: Path) -> None:
    # The member is only unpacked until its layout is clear; the rest is checked in batches.
    data = "naam\nRenée\n".encode() + b"x\n" * 100_000 + "Zoë\n".encode("cp1252")
    path = zip_of(tmp_path / "upload.zip", {"export.csv": data})
    error = read_error(path, chunk_bytes=1024)
    assert error.code == "BF-009"
    assert "rij" in error.message


def test_windows_1252_then_utf8_late_in_an_archive_member_is_found(tmp_path: Path) -> None:
    data = "naam\nRenée\n".encode("cp1252") + b"x\n" * 100_000 + "Zoë\n".encode()
    path = zip_of(tmp_path / "upload.zip", {"export.csv": data})
    assert read_error(path, chunk_bytes=1024).code == "BF-009"


def test_archive_encoding_is_that_of_the_first_table(tmp_path: Path) -> None:
    path = zip_of(
        tmp_path / "upload.zip",
        {"a.csv": NAMES.encode("cp1252"), "b.csv": NAMES.encode()},
    )
    upload = open_upload(path, tables=["a", "b"])
    assert upload.info.encoding == "cp1252"
    assert [(w.code, w.table) for w in upload.warnings] == [("BW-002", "a")]


TEXT = st.text(alphabet=st.sampled_from('ab;\n"é€ë漢😀\u00a0'), max_size=60)


@settings(deadline=None)
@given(text=TEXT, cuts=st.lists(st.integers(min_value=0, max_value=200), max_size=8))
# In Windows-1252, é é NBSP NBSP is E9 E9 A0 A0: a lone lead byte, then a valid UTF-8 character.
@example(text="\u00e9\u00e9\u00a0\u00a0", cuts=[1])
def test_scan_verdict_does_not_depend_on_block_boundaries(text: str, cuts: list[int]) -> None:
    for encoding in ("utf-8", "cp1252"):
        try:
            data = text.encode(encoding)
        except UnicodeEncodeError:
            continue
        whole = EncodingScan()
        whole.feed(data)
        pieces = EncodingScan()
        start = 0
        for cut in sorted(cuts):
            pieces.feed(data[start:cut])
            start = max(start, cut)
        pieces.feed(data[start:])
        assert pieces.finish() == whole.finish()


@settings(deadline=None)
@given(good=st.text(max_size=20), bad=st.binary(max_size=20))
def test_scan_matches_pythons_own_decoder(good: str, bad: bytes) -> None:
    data = good.encode() + bad
    scan = EncodingScan()
    scan.feed(data)
    try:
        data.decode()
    except UnicodeDecodeError:
        mixed = not data.decode(errors="ignore").isascii()
        assert scan.finish() == (None if mixed else "cp1252")
    else:
        assert scan.finish() == ("utf-8-sig" if data.startswith(b"\xef\xbb\xbf") else "utf-8")
