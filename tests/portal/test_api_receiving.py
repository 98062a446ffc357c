"""Reading a multipart upload as it streams: the file to disk under a plain name, the fields
kept, the limits enforced part way, malformed bodies refused."""

from __future__ import annotations

import asyncio
import tempfile
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from zorgbroker.portal.api.receiving import (
    FormRefused,
    ReceivedForm,
    display_name,
    private_folder,
    receive_form,
)


def multipart(fields: dict[str, str], file: tuple[str, bytes] | None) -> tuple[str, bytes]:
    files = {"file": (file[0], file[1], "application/zip")} if file else None
    request = httpx.Request("POST", "http://x/", data=fields, files=files)
    return request.headers["content-type"], request.read()


async def chunks(body: bytes, size: int) -> AsyncIterator[bytes]:
    for start in range(0, len(body), size):
        yield body[start : start + size]


def receive(body: bytes, content_type: str, folder: Path, *, size: int = 7,
            limit: int = 1 << 20) -> ReceivedForm:  # fmt: skip
    return asyncio.run(receive_form(content_type, chunks(body, size), folder, max_file_bytes=limit))


def test_the_file_lands_on_disk_and_the_fields_are_kept(tmp_path: Path):
    data = bytes(range(256)) * 40
    content_type, body = multipart({"dataset": "nhr-pmicd", "mode": "test"}, ("stap1.zip", data))

    form = receive(body, content_type, tmp_path)

    assert form.fields == {"dataset": "nhr-pmicd", "mode": "test"}
    assert form.file == tmp_path / "stap1.zip"
    assert form.file.read_bytes() == data and form.file_bytes == len(data)
    assert form.file.stat().st_mode & 0o777 == 0o600


@pytest.mark.parametrize(
    ("sent", "kept"),
    [
        ("../../etc/passwd", "passwd"),
        ("C:\\Export\\bestand.zip", "bestand.zip"),
        ("..", "bestand"),
        ("", "bestand"),
        ("rapport <script>.zip", "rapport _script_.zip"),
    ],
)
def test_the_clients_file_name_is_reduced_to_a_plain_last_part(sent: str, kept: str):
    assert display_name(sent) == kept


def test_a_file_over_the_limit_is_cut_off_while_it_streams(tmp_path: Path):
    content_type, body = multipart({"dataset": "x"}, ("groot.zip", b"0" * 5000))

    with pytest.raises(FormRefused) as refused:
        receive(body, content_type, tmp_path, limit=1000)

    assert refused.value.status == 413
    assert "1.000 bytes" in refused.value.detail


@pytest.mark.parametrize(
    ("content_type", "body", "status"),
    [
        ("application/json", b"{}", 415),
        ("multipart/form-data", b"", 415),  # no boundary
        ("multipart/form-data; boundary=abc", b"--abc\r\nrommel zonder kopregels", 400),
    ],
)
def test_a_body_that_is_no_multipart_form_is_refused(
    tmp_path: Path, content_type: str, body: bytes, status: int
):
    with pytest.raises(FormRefused) as refused:
        receive(body, content_type, tmp_path)
    assert refused.value.status == status


def test_two_files_or_a_long_field_are_refused(tmp_path: Path):
    boundary = "grens"
    two = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="a"\r\n\r\n'
        f'1\r\n--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="b"\r\n'
        f"\r\n2\r\n--{boundary}--\r\n"
    ).encode()
    with pytest.raises(FormRefused, match="precies één bestand"):
        receive(two, f"multipart/form-data; boundary={boundary}", tmp_path)
    content_type, body = multipart({"dataset": "x" * 5000}, ("a.zip", b"1"))
    with pytest.raises(FormRefused, match="'dataset' is te lang"):
        receive(body, content_type, Path(tempfile.mkdtemp(dir=tmp_path)))


def test_the_private_folder_is_gone_on_every_way_out(tmp_path: Path):
    with pytest.raises(RuntimeError), private_folder(tmp_path) as folder:
        (folder / "stap1.zip").write_bytes(b"x")
        assert folder.stat().st_mode & 0o777 == 0o700
        raise RuntimeError
    assert list(tmp_path.iterdir()) == []
