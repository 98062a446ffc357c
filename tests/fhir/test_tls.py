"""The FHIR server terminating TLS itself: TLS 1.2 and 1.3 are spoken, older versions refused
by the server."""

from __future__ import annotations

import datetime as dt
import ipaddress
import socket
import ssl
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import uvicorn
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from fastapi import FastAPI

from zorgbroker.fhir.tls import server_config


def self_signed(folder: Path) -> tuple[Path, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=1))
        .not_valid_after(now + dt.timedelta(hours=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = folder / "cert.pem", folder / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


@pytest.fixture
def tls_server(tmp_path: Path) -> Iterator[tuple[int, Path]]:
    cert, key = self_signed(tmp_path)
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    config = server_config(FastAPI(), host="127.0.0.1", port=port, cert=cert, key=key)
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.02)
    yield port, cert
    server.should_exit = True
    thread.join(10)


def handshake(port: int, cert: Path, version: ssl.TLSVersion) -> str | None:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.load_verify_locations(cert)
    context.minimum_version = version
    context.maximum_version = version
    if version < ssl.TLSVersion.TLSv1_2:
        context.set_ciphers("ALL:@SECLEVEL=0")  # let this client offer the old version at all
    with (
        socket.create_connection(("127.0.0.1", port), timeout=5) as raw,
        context.wrap_socket(raw, server_hostname="127.0.0.1") as conn,
    ):
        return conn.version()


def test_tls_12_and_13_are_spoken(tls_server: tuple[int, Path]) -> None:
    port, cert = tls_server
    assert handshake(port, cert, ssl.TLSVersion.TLSv1_2) == "TLSv1.2"
    assert handshake(port, cert, ssl.TLSVersion.TLSv1_3) == "TLSv1.3"


@pytest.mark.filterwarnings("ignore:ssl.TLSVersion:DeprecationWarning")
def test_older_versions_are_refused_by_the_server(tls_server: tuple[int, Path]) -> None:
    port, cert = tls_server
    for version in (ssl.TLSVersion.TLSv1, ssl.TLSVersion.TLSv1_1):
        with pytest.raises(ssl.SSLError) as refused:
            handshake(port, cert, version)
        if "NO_PROTOCOLS_AVAILABLE" in str(refused.value).upper():
            pytest.skip("this OpenSSL build cannot offer TLS 1.0/1.1 at all")
        # The server's alert or hang-up, not the client declining: the server refused.
        message = str(refused.value).lower()
        assert "alert protocol version" in message or "unexpected_eof" in message


def test_the_server_context_itself_sets_the_floor(tmp_path: Path) -> None:
    """Not left to the system's OpenSSL defaults (which may allow older versions elsewhere)."""
    cert, key = self_signed(tmp_path)
    config = server_config(FastAPI(), host="127.0.0.1", port=0, cert=cert, key=key)
    assert config.ssl is not None
    assert config.ssl.minimum_version == ssl.TLSVersion.TLSv1_2
    plain = server_config(FastAPI(), host="127.0.0.1", port=0)
    assert not plain.is_ssl
