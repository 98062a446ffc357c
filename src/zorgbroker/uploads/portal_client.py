"""The source's side of `zorgbroker submit --portal URL`: send a stage-1 file to the portal's API
(`/api/v1`) with an API token, follow its status, fetch its report.

Only httpx and the API's JSON: nothing here knows the portal's code. Every failure becomes a
`PortalError` with a Dutch message and the command's exit status.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

#: `zorgbroker submit`'s exit statuses (cli.common): usage error, could not be processed.
EXIT_USAGE = 2
EXIT_FAILED = 3
FINISHED = ("done", "failed", "stopped")
#: How often a GET is asked again after "too many requests".
RETRIES_AFTER_429 = 5
#: Connecting and each read; a large file's upload itself may take longer as a whole.
TIMEOUT = httpx.Timeout(60.0, connect=10.0)


class PortalError(Exception):
    def __init__(self, message: str, exit_status: int = EXIT_FAILED) -> None:
        super().__init__(message)
        self.message = message
        self.exit_status = exit_status


def read_token(token_file: Path | None, environment: str | None) -> str:
    """The API token from `--token-file`, else from ZORGBROKER_API_TOKEN; never from the command
    line, where other users of the machine could read it."""
    if token_file is not None:
        try:
            token = token_file.read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise PortalError(
                f"het sleutelbestand '{token_file}' kan niet gelezen worden ({exc.strerror})",
                EXIT_USAGE,
            ) from None
    else:
        token = (environment or "").strip()
    if not token:
        raise PortalError(
            "geen API-sleutel: geef --token-file BESTAND of zet ZORGBROKER_API_TOKEN "
            "(een sleutel maakt u in het portaal onder API-sleutels)",
            EXIT_USAGE,
        )
    return token


def _detail(response: httpx.Response) -> str:
    try:
        detail = response.json().get("detail")
    except ValueError:
        detail = None
    return str(detail) if detail else f"HTTP {response.status_code}"


class PortalClient:
    def __init__(
        self,
        portal: str,
        token: str,
        *,
        transport: httpx.BaseTransport | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._portal = portal.rstrip("/")
        self._client = httpx.Client(
            base_url=f"{self._portal}/api/v1",
            headers={"Authorization": f"Bearer {token}", "User-Agent": "zorgbroker-submit"},
            timeout=TIMEOUT,
            transport=transport,
        )
        self._sleep = sleep

    def __enter__(self) -> PortalClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self._client.close()

    def _send(self, method: str, path: str, **options: Any) -> httpx.Response:
        """One request; a GET refused for too many requests (429) is asked again after the
        wait the portal names (a few times)."""
        for _ in range(RETRIES_AFTER_429):
            try:
                response = self._client.request(method, path, **options)
            except httpx.TransportError as exc:
                raise PortalError(
                    f"het portaal {self._portal} is niet bereikbaar ({type(exc).__name__}); "
                    "controleer het adres en de verbinding en probeer het opnieuw"
                ) from None
            if response.status_code != 429 or method != "GET":
                return response
            wait = response.headers.get("retry-after", "")
            self._sleep(min(float(wait), 60.0) if wait.isdigit() else 5.0)
        return response

    def _request(self, method: str, path: str, **options: Any) -> httpx.Response:
        response = self._send(method, path, **options)
        if response.status_code == 401:
            raise PortalError(
                "het portaal weigert de API-sleutel (onbekend, ingetrokken of verlopen); "
                "maak een nieuwe in het portaal onder API-sleutels",
                EXIT_USAGE,
            )
        if response.status_code == 404 and path == "/me":
            raise PortalError(
                f"op {self._portal} is geen zorgbroker-API gevonden (/api/v1); "
                "controleer het adres van het portaal",
                EXIT_USAGE,
            )
        if response.status_code in (403, 404, 409, 413, 415, 422):
            raise PortalError(f"het portaal weigert het verzoek: {_detail(response)}", EXIT_USAGE)
        if response.status_code >= 400:
            raise PortalError(
                f"het portaal gaf een fout (HTTP {response.status_code}): {_detail(response)}"
            )
        return response

    def me(self) -> dict[str, Any]:
        found: dict[str, Any] = self._request("GET", "/me").json()
        return found

    def submit(self, stage1: Path, *, dataset: str, mode: str) -> int:
        """Send the stage-1 file (httpx streams it from disk); the upload's number."""
        with stage1.open("rb") as handle:
            response = self._request(
                "POST",
                "/uploads",
                data={"dataset": dataset, "mode": mode},
                files={"file": (stage1.name, handle, "application/zip")},
                timeout=httpx.Timeout(None, connect=10.0),
            )
        return int(response.json()["id"])

    def status(self, upload_id: int) -> dict[str, Any]:
        found: dict[str, Any] = self._request("GET", f"/uploads/{upload_id}").json()
        return found

    def wait(self, upload_id: int, *, poll_seconds: float = 0.3) -> dict[str, Any]:
        """The upload's status once it is finished."""
        while True:
            found = self.status(upload_id)
            if found["status"] in FINISHED:
                return found
            self._sleep(poll_seconds)

    def report(self, upload_id: int) -> dict[str, Any]:
        """The report in the contract's JSON."""
        found: dict[str, Any] = self._request("GET", f"/uploads/{upload_id}/report").json()
        return found
