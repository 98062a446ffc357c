from __future__ import annotations

from pathlib import Path

import pytest

from zorgbroker.pseudonymisation.ttp import TrustedThirdParty

#: Published test keys of docs/pseudonymisation.md: the source key of each registry's project
#: (method zb2) and the registry keys of the TTP.
TEST_SOURCE_KEYS = {"nhr": bytes(range(128, 160)), "nivel": bytes(range(160, 192))}
TEST_REGISTRY_KEYS = {"nhr": bytes(range(32, 64)), "nivel": bytes(range(64, 96))}

#: Valid BSNs (they pass the eleven-test) used across the tests.
BSNS = ["123456782", "111222333", "999999990", "010000008"]


@pytest.fixture
def home(tmp_path: Path) -> Path:
    return tmp_path / "home"


@pytest.fixture
def ttp(home: Path) -> TrustedThirdParty:
    party = TrustedThirdParty(home)
    party.init()
    return party
