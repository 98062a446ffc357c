"""The demo's patient: a portal account that is the GGZ qualification patient XXX-Bals, so the
patient's pages (MedMij consent, "Wie heeft mijn gegevens opgevraagd") can be tried once that
record is loaded with `zorgbroker fhir load`. Made again and again: what exists is left."""

from __future__ import annotations

from dataclasses import dataclass

from zorgbroker.accounts.interfaces import RequestContext
from zorgbroker.accounts.services import AccountService
from zorgbroker.fhir.oauth.store import OAuthStore
from zorgbroker.platform.demo import DEMO_POLICY, KeptInvitations

#: Patients are accounts of an organisation of their own, without roles: they can do nothing
#: else in the portal.
PATIENTS = "Patiënten van de GGZ-praktijk (demo)"


@dataclass(frozen=True)
class DemoPatient:
    email: str
    name: str
    #: Known to everyone who reads this file: for the demo only.
    password: str
    #: The FHIR Patient's resource id (Nictiz's GGZ 2.0 qualification record).
    patient_id: str


DEMO_PATIENT = DemoPatient(
    "patient@bals.example.nl", "Patiënt XXX-Bals", "Tulpenveld-molen-regen-41", "XXX-Bals"
)


def set_up_patient(
    accounts: AccountService, invitations: KeptInvitations, store: OAuthStore
) -> DemoPatient:
    """Make the patient's account if it does not exist, and link it to the patient."""
    patient = DEMO_PATIENT
    user_id = accounts.find_user(patient.email)
    if user_id is None:
        context = RequestContext(address="127.0.0.1", user_agent="zorgbroker demo")
        organisation = accounts.find_organisation(PATIENTS) or accounts.create_organisation(
            PATIENTS, DEMO_POLICY
        )
        user_id = accounts.invite(None, organisation, patient.email, patient.name, (), context)
        accounts.accept_invitation(invitations.last_token(), patient.password, context)
    store.link_patient(user_id, patient.patient_id)
    return patient
