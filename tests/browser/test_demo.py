"""`zorgbroker demo` as a user starts it: the printed sign-in works in Chromium, and the mail
the portal sends shows on the demo's mailbox page (read from the local mailbox folder)."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import _free_port

pytestmark = pytest.mark.slow


@dataclass
class RunningDemo:
    url: str
    printed: str
    home: Path
    process: subprocess.Popen[str]


def start_demo(home: Path, port: int) -> RunningDemo:
    env = {**os.environ, "ZORGBROKER_HOME": str(home)}
    env.pop("ZORGBROKER_DATABASE_URL", None)
    process = subprocess.Popen(
        [sys.executable, "-m", "zorgbroker", "demo", "--port", str(port)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
    )  # fmt: skip
    assert process.stdout is not None
    printed = []
    for line in process.stdout:
        printed.append(line)
        if line.startswith("Gegevens van de demo"):
            break
    text = "".join(printed)
    found = re.search(r"draait op (http://\S+)", text)
    assert found, text + (process.stderr.read() if process.stderr else "")
    url = found.group(1)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            import httpx

            if httpx.get(url + "/aanmelden").status_code == 200:
                break
        except httpx.TransportError:
            time.sleep(0.1)
    return RunningDemo(url, text, home, process)


def stop(demo: RunningDemo) -> str:
    demo.process.send_signal(signal.SIGINT)
    out, _ = demo.process.communicate(timeout=30)
    return out


@pytest.fixture
def demo(tmp_path: Path) -> Iterator[RunningDemo]:
    running = start_demo(tmp_path / "home", _free_port())
    yield running
    if running.process.poll() is None:
        running.process.kill()
    _, errors = running.process.communicate()
    print(errors)  # shown when a test failed: the server's own account of it


def sign_in_of(printed: str, email: str) -> str:
    found = re.search(rf"{re.escape(email)}\s+wachtwoord: (\S+)", printed)
    assert found, printed
    return found.group(1)


def test_the_printed_demo_sign_in_works_and_its_mail_shows_in_the_mailbox(
    browser: Any, demo: RunningDemo
) -> None:
    email = "datamanager@rivierenland.example.nl"
    assert "beheerder@registratie.example.nl" in demo.printed
    context = browser.new_context()
    page = context.new_page()
    page.goto(demo.url + "/aanmelden")
    page.get_by_label("E-mailadres").fill(email)
    page.get_by_label("Wachtwoord").fill(sign_in_of(demo.printed, email))
    page.get_by_role("button", name="Aanmelden").click()
    expect(page.get_by_role("heading", name="Welkom, Daan de Vries")).to_be_visible()
    expect(page.get_by_text("Ziekenhuis Rivierenland (AGB 01234567)")).to_be_visible()

    # The organisation administrator invites a colleague; the mail lands in the mailbox folder,
    # which the demo's mailbox page and `zorgbroker mail` both read.
    page.get_by_role("link", name="Gebruikers").click()
    page.get_by_label("Naam", exact=True).fill("Eva Jansen")
    page.get_by_label("E-mailadres").fill("eva@rivierenland.example.nl")
    page.get_by_role("button", name="Uitnodiging versturen").click()
    page.get_by_role("link", name="Demo-mailbox").click()
    expect(page.get_by_role("heading", name="Uitnodiging voor zorgbroker")).to_be_visible()
    expect(page.get_by_text("Aan: eva@rivierenland.example.nl")).to_be_visible()
    invitations = [p for p in (demo.home / "mailbox").glob("*.eml") if b"eva@" in p.read_bytes()]
    assert len(invitations) == 1
    context.close()

    assert "Demo gestopt." in stop(demo)
    assert demo.process.returncode == 0


def test_a_second_start_keeps_the_demo_users_and_reports_a_busy_port(
    tmp_path: Path, demo: RunningDemo
) -> None:
    port = demo.url.rsplit(":", 1)[1]
    env = {**os.environ, "ZORGBROKER_HOME": str(demo.home)}
    busy = subprocess.run(
        [sys.executable, "-m", "zorgbroker", "demo", "--port", port],
        capture_output=True, text=True, env=env, check=False,
    )  # fmt: skip
    assert busy.returncode == 2
    assert f"poort {port} is al in gebruik" in busy.stderr
    stop(demo)

    again = start_demo(demo.home, _free_port())
    try:
        assert again.printed.count("wachtwoord:") == 3  # two users and the demo patient
    finally:
        stop(again)
