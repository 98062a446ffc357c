"""The demo's organisations and users, made through the accounts services (again and again:
what exists already is left as it is).

The demo organisations do not require the two-step verification, so the printed sign-ins work
at once; an organisation administrator can switch it on under "Beleid", and a user can add a
second factor under "Tweestapsverificatie" whatever the policy.
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass, field
from pathlib import Path

from zorgbroker.accounts.interfaces import RequestContext
from zorgbroker.accounts.models import ORGANISATION_ADMIN, REGISTRY_ADMIN, ROLE_LABELS, UPLOADER
from zorgbroker.accounts.policy import DEFAULT_POLICY
from zorgbroker.accounts.services import AccountService

#: The demo hospital's AGB code: the source organisation the demo's TTP issues a token for.
HOSPITAL_AGB = "01234567"
PRACTICE_AGB = "04000012"
HOSPITAL = f"Ziekenhuis Rivierenland (AGB {HOSPITAL_AGB})"
PRACTICE = f"Fysiotherapie De Brug (AGB {PRACTICE_AGB})"
REGISTRY = "Kwaliteitsregistratie (demo)"
DEMO_POLICY = dataclasses.replace(DEFAULT_POLICY, two_step_required=False)
#: The registries of the shipped datasets: the demo hospital's uploader is enrolled at the TTP
#: for each, so a production upload from the browser works at once.
DEMO_REGISTRIES = ("nhr", "nivel", "parabench")
#: The uploader's TTP password (it unwraps the project key in the browser). Known to everyone
#: who reads this file: for the demo only. Not the sign-in password, as the TTP's mail advises.
DEMO_TTP_PASSWORD = "Grachtenpand-kwartel-zeilboot-58"


@dataclass(frozen=True)
class DemoUser:
    organisation: str
    email: str
    name: str
    roles: frozenset[str]
    #: Known to everyone who reads this file: for the demo only.
    password: str
    #: Enrolled at the TTP for DEMO_REGISTRIES with DEMO_TTP_PASSWORD (an uploader).
    ttp_enrolled: bool = False

    @property
    def role_labels(self) -> str:
        return ", ".join(ROLE_LABELS[role] for role in sorted(self.roles))


DEMO_USERS = (
    DemoUser(
        REGISTRY, "beheerder@registratie.example.nl", "Rosa Verbeek",
        frozenset({REGISTRY_ADMIN}), "lantaarn-Kompas-paars-2026",
    ),
    DemoUser(
        HOSPITAL, "datamanager@rivierenland.example.nl", "Daan de Vries",
        frozenset({UPLOADER, ORGANISATION_ADMIN}), "Zonnebloem-kade-vlieger-73", True,
    ),
)  # fmt: skip


@dataclass
class KeptInvitations:
    """A mailer that keeps the invitation links instead of sending them: the demo sets the
    passwords itself."""

    bodies: list[str] = field(default_factory=list)

    def send(self, to: str, subject: str, body: str) -> None:
        self.bodies.append(body)

    def last_token(self) -> str:
        found = re.search(r"/uitnodiging/(\S+)", self.bodies[-1])
        assert found is not None, "an invitation mail holds its link"
        return found.group(1)


def set_up(accounts: AccountService, invitations: KeptInvitations) -> tuple[DemoUser, ...]:
    """Make the demo organisations and users that do not exist yet; `accounts` mails through
    `invitations`."""
    context = RequestContext(address="127.0.0.1", user_agent="zorgbroker demo")
    organisations = {}
    for name, agb in ((REGISTRY, None), (HOSPITAL, HOSPITAL_AGB), (PRACTICE, PRACTICE_AGB)):
        known = accounts.find_organisation(name)
        organisations[name] = known or accounts.create_organisation(
            name, DEMO_POLICY, is_registry=name == REGISTRY, agb=agb
        )
    for user in DEMO_USERS:
        if accounts.find_user(user.email) is not None:
            continue
        accounts.invite(
            None, organisations[user.organisation], user.email, user.name, user.roles, context
        )
        accounts.accept_invitation(invitations.last_token(), user.password, context)
    return DEMO_USERS


#: The demo files a data manager can upload at once (synthetic; a few records with a fault).
DEMO_FILES = (("nhr-pmicd", "demo-nhr-pmicd.csv", 2_000), ("nhr-pmicd", "demo-nhr-pmicd.xlsx", 500))


def demo_files(home: Path) -> list[Path]:
    """The demo's export files in `home/demo-bestanden` for the demo hospital, made once (the
    same arguments always give the same file)."""
    from zorgbroker.intake.api import generate

    folder = home / "demo-bestanden"
    folder.mkdir(parents=True, exist_ok=True)
    made = []
    for dataset, name, rows in DEMO_FILES:
        path = folder / name
        if not path.exists():
            generate(dataset, rows=rows, out=path, error_rate=0.02, seed=2026,
                     organisation=HOSPITAL_AGB)  # fmt: skip
        made.append(path)
    return made
