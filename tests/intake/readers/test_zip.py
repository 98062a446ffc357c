"""ZIP archives of CSV tables, and every way an archive can be unsafe (BF-007)."""

from __future__ import annotations

import io
import zipfile
import zlib
from pathlib import Path

import pytest

from tests.intake.readers.conftest import (
    deflated_zeros,
    open_and_read,
    raw_zip,
    read_error,
    read_table,
    rows,
    zip_of,
)
from zorgbroker.intake.readers import Limits, ReadError, open_upload
from zorgbroker.intake.readers.archive import MemberStream

NIVEL = ["praktijk", "therapeuten", "patienten", "episodes", "verrichtingen"]


def test_tables_by_file_name_ignoring_folders_case_and_litter(tmp_path: Path) -> None:
    path = zip_of(
        tmp_path / "nivel.zip",
        {
            "export/Praktijk.CSV": b"agb\n12345678\n",
            "export/episodes.csv": b"id;patient_id\ne1;p1\n",
            "__MACOSX/export/._episodes.csv": b"\x00\x05\x16\x07junk",
            "export/.hidden.csv": b"x\n1\n",
            "Thumbs.db": b"\x00",
            "export/leesmij.txt": b"hallo",
        },
    )
    upload = open_upload(path, tables=NIVEL)
    assert upload.info.format == "zip"
    assert sorted(upload.tables) == ["episodes", "praktijk"]
    assert rows(read_table(upload, "episodes")) == [("e1", "p1")]
    assert [(w.code, w.table) for w in upload.warnings] == [("BW-001", None)]
    assert "leesmij.txt" in upload.warnings[0].message
    assert upload.progress_total == sum(t.bytes_total for t in upload.tables.values())


def test_a_table_may_have_a_header_only_in_a_multi_table_archive(tmp_path: Path) -> None:
    path = zip_of(tmp_path / "nivel.zip", {"praktijk.csv": b"agb\n", "episodes.csv": b"id\n1\n"})
    upload = open_upload(path, tables=NIVEL)
    assert read_table(upload, "praktijk").height == 0


def test_an_empty_member_is_bf005_for_its_table(tmp_path: Path) -> None:
    path = zip_of(tmp_path / "nivel.zip", {"praktijk.csv": b"", "episodes.csv": b"id\n1\n"})
    error = read_error(path, tables=NIVEL)
    assert (error.code, error.table) == ("BF-005", "praktijk")


def test_the_same_table_twice_is_refused(tmp_path: Path) -> None:
    path = zip_of(
        tmp_path / "nivel.zip", {"a/episodes.csv": b"id\n1\n", "b/Episodes.csv": b"id\n2\n"}
    )
    assert read_error(path, tables=NIVEL).code == "BF-001"


def test_single_table_dataset_accepts_a_zip_with_one_csv(tmp_path: Path) -> None:
    path = zip_of(tmp_path / "export.zip", {"map/export.csv": b"a;b\n1;2\n", "leesmij.txt": b"x"})
    upload, frame = open_and_read(path)
    assert upload.info.format == "zip"
    assert upload.info.encoding == "utf-8"
    assert rows(frame) == [("1", "2")]


@pytest.mark.parametrize("members", [{}, {"a.csv": b"a\n1\n", "b.csv": b"b\n2\n"}])
def test_single_table_dataset_needs_exactly_one_csv(
    tmp_path: Path, members: dict[str, bytes]
) -> None:
    path = zip_of(tmp_path / "export.zip", {"leesmij.txt": b"x", **members})
    error = read_error(path, dataset="nhr-pmicd")
    # The file is a ZIP archive all right: not an unknown format, but another layout.
    assert error.code == "BF-004"
    assert "nhr-pmicd verwacht één CSV- of XLSX-bestand" in error.message
    assert f"bevat {len(members) or 'geen'} CSV-bestanden" in error.message


def test_another_datasets_archive_says_which_layout_the_dataset_expects(tmp_path: Path) -> None:
    tables = {f"{name}.csv": b"id\n1\n" for name in NIVEL}
    error = read_error(zip_of(tmp_path / "fysio.zip", tables))
    assert error.code == "BF-004"
    assert error.message == (
        "Bestand hoort niet bij deze dataset: deze dataset verwacht één CSV- of XLSX-bestand, "
        "of een ZIP-archief met precies één CSV-bestand; dit ZIP-archief bevat 5 CSV-bestanden."
    )


def test_zip_bomb_of_two_gigabytes_declared_is_refused_unread(tmp_path: Path) -> None:
    size = 2 * 1024**3
    path = tmp_path / "bom.zip"
    path.write_bytes(raw_zip([("data.csv", deflated_zeros(size), size)], crc=0))
    assert path.stat().st_size < 4 * 1024 * 1024
    error = read_error(path, limits=Limits(max_unpacked_bytes=1024**3))
    assert error.code == "BF-007"
    assert error.info is not None and error.info.format == "zip"


def test_deflated_zeros_helper_really_unpacks_to_zeros() -> None:
    data = zlib.decompress(deflated_zeros(40 * 1024 * 1024 + 5), -15)
    assert len(data) == 40 * 1024 * 1024 + 5 and not data.strip(b"\x00")


def test_high_compression_ratio_is_refused_even_under_the_size_limit(tmp_path: Path) -> None:
    size = 50 * 1024 * 1024
    path = tmp_path / "bom.zip"
    path.write_bytes(raw_zip([("data.csv", deflated_zeros(size), size)], crc=0))
    assert read_error(path).code == "BF-007"


def test_a_member_that_unpacks_to_more_than_declared_is_stopped(tmp_path: Path) -> None:
    data = b"a;b\n" + b"1;2\n" * 10_000
    stored = zlib.compress(data, 9)[2:-4]  # raw deflate
    path = tmp_path / "leugen.zip"
    path.write_bytes(raw_zip([("data.csv", stored, 100)]))
    error = read_error(path)
    assert error.code in {"BF-001", "BF-007"}


def test_member_stream_stops_at_the_declared_size() -> None:
    stream = MemberStream(io.BytesIO(b"x" * 100), declared=10, table=None)
    with pytest.raises(ReadError) as caught:
        while stream.read(8):
            pass
    assert caught.value.code == "BF-007"


@pytest.mark.parametrize(
    "name", ["../../etc/passwd.csv", "/abs/data.csv", "C:/data.csv", "a/../../b.csv"]
)
def test_paths_leaving_the_archive_are_refused(tmp_path: Path, name: str) -> None:
    path = tmp_path / "pad.zip"
    path.write_bytes(raw_zip([(name, zlib.compress(b"a\n1\n")[2:-4], 4)]))
    assert read_error(path).code == "BF-007"


def test_encrypted_members_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "geheim.zip"
    path.write_bytes(raw_zip([("data.csv", b"\x00" * 20, 8)], flags=0x1))
    assert read_error(path).code == "BF-007"


def test_nested_archives_are_refused(tmp_path: Path) -> None:
    inner = zip_of(tmp_path / "binnen.zip", {"data.csv": b"a\n1\n"}).read_bytes()
    by_name = zip_of(tmp_path / "naam.zip", {"data.csv": b"a\n1\n", "meer.zip": inner})
    assert read_error(by_name).code == "BF-007"
    by_content = zip_of(tmp_path / "inhoud.zip", {"data.csv": inner})
    assert read_error(by_content).code == "BF-007"


def test_too_many_members_are_refused_before_the_directory_is_parsed(tmp_path: Path) -> None:
    path = tmp_path / "veel.zip"
    with zipfile.ZipFile(path, "w") as archive:
        for index in range(1001):
            archive.writestr(f"f{index}.txt", b"")
    assert read_error(path).code == "BF-007"


def test_truncated_archive_is_bf001(tmp_path: Path) -> None:
    good = zip_of(tmp_path / "goed.zip", {"data.csv": b"a;b\n" + b"1;2\n" * 1000})
    bad = tmp_path / "kapot.zip"
    bad.write_bytes(good.read_bytes()[:-30])
    assert read_error(bad).code == "BF-001"


def test_unsupported_compression_is_bf002(tmp_path: Path) -> None:
    path = tmp_path / "vreemd.zip"
    path.write_bytes(raw_zip([("data.csv", b"a\n1\n", 4)], method=9))  # deflate64
    assert read_error(path).code == "BF-002"


def test_single_table_archive_with_header_only_is_bf005(tmp_path: Path) -> None:
    path = zip_of(tmp_path / "export.zip", {"export.csv": b"a;b\n"})
    assert read_error(path).code == "BF-005"


def test_member_names_that_may_hold_personal_data_are_not_echoed(tmp_path: Path) -> None:
    path = zip_of(
        tmp_path / "nivel.zip",
        {
            "episodes.csv": b"id\n1\n",
            "jansen_123456782.csv": b"x\n1\n",
            "geboren-1970-01-31.txt": b"x",
        },
    )
    upload = open_upload(path, tables=NIVEL)
    texts = " ".join(w.message for w in upload.warnings)
    assert [w.code for w in upload.warnings] == ["BW-001", "BW-001"]
    assert "123456782" not in texts and "1970" not in texts
    assert "(naam niet getoond)" in texts
