"""The documentation lists every code the shipped specifications can raise."""

from __future__ import annotations

from pathlib import Path

from zorgbroker.intake.spec import available, load_dataset

DOCS = Path(__file__).resolve().parents[3] / "docs"


def test_message_codes_documented() -> None:
    text = (DOCS / "message-codes.md").read_text(encoding="utf-8")
    for entry in available():
        for code, message in load_dataset(entry.name).messages.items():
            assert f"`{code}`" in text, code
            assert message.nl in text, code
