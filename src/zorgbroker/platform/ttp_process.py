"""The demo's TTP as a process of its own: `zorgbroker ttp serve` on a free loopback port, its
state (keys, store, audit log) in its own folder, stopped with the demo.

The demo never opens the TTP's folder itself: a short `zorgbroker ttp source-add` process issues
the token the platform's upload processing sends, then the service process answers it.
"""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

from zorgbroker.mail.mailbox import mail_files, read_message, text_body

HOST = "127.0.0.1"
#: How long the TTP may take to answer its health check before the demo gives up.
START_TIMEOUT_SECONDS = 60.0
#: How long a stopped TTP may take to finish its requests before it is killed.
STOP_TIMEOUT_SECONDS = 10.0


class TTPDidNotStart(RuntimeError):
    """The TTP process ended or did not answer in time (Dutch message)."""


@dataclass(frozen=True)
class TTPProcess:
    url: str
    token: str
    pid: int


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind((HOST, 0))
        return int(probe.getsockname()[1])


def _die_with_parent() -> None:
    """In the child, before it runs: the kernel ends it when the demo dies without cleaning up
    (killed), so no TTP is ever left behind."""
    import ctypes

    pr_set_pdeathsig = 1
    ctypes.CDLL(None, use_errno=True).prctl(pr_set_pdeathsig, signal.SIGTERM)


def _command(*arguments: str) -> list[str]:
    return [sys.executable, "-m", "zorgbroker", "ttp", *arguments]


def _issue_token(env: dict[str, str], source: str) -> str:
    done = subprocess.run(
        _command("source-add", source), env=env, capture_output=True, text=True, check=False
    )
    if done.returncode != 0 or not done.stdout.strip():
        raise TTPDidNotStart(
            f"De TTP gaf geen toegangstoken voor {source}: {done.stderr.strip() or done.stdout}"
        )
    return done.stdout.strip().splitlines()[-1].strip()


def _has_wrapping(ttp: TTPProcess, email: str, organisation: str, registry: str) -> bool:
    answer = httpx.get(
        f"{ttp.url}/v1/registries/{registry}/source-keys",
        params={"email": email, "organisation": organisation},
        headers={"Authorization": f"Bearer {ttp.token}"},
        timeout=10.0,
    )
    return answer.status_code == 200


def enrol_demo_uploader(
    ttp: TTPProcess,
    home: Path,
    *,
    email: str,
    organisation: str,
    registries: Sequence[str],
    password: str,
) -> None:
    """Enrol a demo uploader at the demo's TTP as its officer would, and set their TTP password
    on the TTP's page as they would: `zorgbroker ttp enrol` mails the link into the demo
    mailbox (where it stays to be read), the password is posted to that link. Registries for
    which the user has a TTP password already (a second start) are left as they are."""
    env = {**_ttp_environment(home), "ZORGBROKER_SMTP_HOST": ""}  # mail to the demo mailbox
    mailbox = home / "mailbox"
    for registry in registries:
        if _has_wrapping(ttp, email, organisation, registry):
            continue
        done = subprocess.run(
            _command("enrol", "--email", email, "--organisation", organisation,
                     "--registry", registry, "--ttp-adres", ttp.url),
            env=env, capture_output=True, text=True, check=False,
        )  # fmt: skip
        if done.returncode != 0:
            raise TTPDidNotStart(f"De TTP schreef {email} niet in: {done.stderr.strip()}")
        newest = mail_files(mailbox)[-1]
        link = re.search(rf"{re.escape(ttp.url)}/wachtwoord/\S+", text_body(read_message(newest)))
        if link is None:
            raise TTPDidNotStart("De mail van de TTP bevat geen link voor het TTP-wachtwoord.")
        form = {"wachtwoord": password, "herhaling": password}
        if httpx.post(link.group(0), data=form, timeout=30.0).status_code != 200:
            raise TTPDidNotStart(f"Het TTP-wachtwoord van {email} kon niet worden ingesteld.")


def _wait_until_answering(process: subprocess.Popen[bytes], url: str) -> None:
    deadline = time.monotonic() + START_TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise TTPDidNotStart(f"De TTP stopte bij het starten (code {process.returncode}).")
        try:
            if httpx.get(f"{url}/v1/health", timeout=1.0).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    raise TTPDidNotStart(f"De TTP op {url} antwoordde niet binnen {START_TIMEOUT_SECONDS:.0f} s.")


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.terminate()
    try:
        process.wait(timeout=STOP_TIMEOUT_SECONDS)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def _ttp_environment(home: Path) -> dict[str, str]:
    env = {**os.environ, "ZORGBROKER_HOME": str(home)}
    for name in ("ZORGBROKER_TTP_URL", "ZORGBROKER_TTP_TOKEN"):
        env.pop(name, None)  # this process is the TTP: it must not relay to another one
    return env


@contextmanager
def running_ttp(home: Path, *, source: str) -> Iterator[TTPProcess]:
    """The TTP service under `home` (its state in `home/ttp`), with a fresh token for the source
    organisation `source`; stopped (and waited for) when the block ends, however it ends."""
    env = _ttp_environment(home)
    token = _issue_token(env, source)
    port = _free_port()
    url = f"http://{HOST}:{port}"
    process = subprocess.Popen(
        _command("serve", "--host", HOST, "--port", str(port)),
        env=env,
        stdout=subprocess.DEVNULL,
        preexec_fn=_die_with_parent if sys.platform == "linux" else None,
    )
    try:
        _wait_until_answering(process, url)
        yield TTPProcess(url=url, token=token, pid=process.pid)
    finally:
        _stop(process)
