"""TLS where the FHIR server terminates it itself: TLS 1.2 or 1.3 only (MedMij)."""

from __future__ import annotations

import ssl
from pathlib import Path
from typing import Any

import uvicorn


def server_config(
    app: Any, *, host: str, port: int, cert: Path | None = None, key: Path | None = None
) -> uvicorn.Config:
    """uvicorn's configuration for `app`; with a certificate and key it speaks https and
    refuses anything older than TLS 1.2."""
    config = uvicorn.Config(
        app,
        host=host,
        port=port,
        log_level="warning",
        ssl_certfile=str(cert) if cert else None,
        ssl_keyfile=str(key) if key else None,
    )
    if cert is not None:
        config.load()  # makes the SSL context, which is then narrowed before serving
        assert config.ssl is not None
        config.ssl.minimum_version = ssl.TLSVersion.TLSv1_2
    return config
