"""TLS where the FHIR server terminates it itself: TLS 1.2 or 1.3 only (MedMij)."""

from __future__ import annotations

import ssl
from pathlib import Path
from typing import Any

import uvicorn


class _Config(uvicorn.Config):
    """uvicorn's configuration, with the SSL context narrowed to TLS 1.2 and newer wherever it is
    made: in this process, or in each worker process of `--workers`, which loads its own copy."""

    def load(self) -> None:
        super().load()
        if self.ssl is not None:
            self.ssl.minimum_version = ssl.TLSVersion.TLSv1_2


def server_config(
    app: Any,
    *,
    host: str,
    port: int,
    cert: Path | None = None,
    key: Path | None = None,
    workers: int = 1,
) -> uvicorn.Config:
    """uvicorn's configuration for `app`; with a certificate and key it speaks https and
    refuses anything older than TLS 1.2. With several `workers`, `app` is a factory (picklable:
    each worker process calls it) and the configuration is loaded in the workers only."""
    config = _Config(
        app,
        host=host,
        port=port,
        log_level="warning",
        ssl_certfile=str(cert) if cert else None,
        ssl_keyfile=str(key) if key else None,
        workers=workers,
        factory=workers > 1,
    )
    if cert is not None and workers == 1:
        config.load()  # makes (and narrows) the SSL context now, before serving
    return config
