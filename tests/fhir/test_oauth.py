"""The MedMij authorisation server end to end, driven by a real OAuth2 client library (Authlib's
httpx `OAuth2Client`): the patient signs in to the portal (password and app code) and consents;
the PGO redeems the code at the token endpoint of the FHIR app, served by uvicorn on loopback,
and searches with the token. Then every refusal the issue names."""

from __future__ import annotations

import html
import re
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pyotp
import pytest
import uvicorn
from authlib.integrations.base_client.errors import OAuthError
from authlib.integrations.httpx_client import OAuth2Client
from fastapi.testclient import TestClient
from sqlalchemy import Engine, select

from tests.accounts.conftest import GOOD_PASSWORD, HOME, demo_sqlite_engine, standin_services
from tests.fhir.conftest import GGZ, LOAD_DATE, MEDICATION
from tests.portal.conftest import ORIGIN, csrf
from tests.registry.conftest import new_postgres_database
from zorgbroker.accounts.database import upgrade
from zorgbroker.accounts.services import AccountServices
from zorgbroker.accounts.standins import FrozenClock, MemoryMailer
from zorgbroker.fhir.models import AccessLogEntry, AccessToken, AuthorizationCode
from zorgbroker.fhir.oauth.lists import DEMO_LISTS, read_lists
from zorgbroker.fhir.oauth.patients import PatientAccess
from zorgbroker.fhir.oauth.server import AuthorizationService
from zorgbroker.fhir.oauth.store import OAuthStore, StoredTokenVerifier
from zorgbroker.fhir.routes import FhirService
from zorgbroker.fhir.routes import create_app as fhir_app
from zorgbroker.fhir.schema import ensure_schema
from zorgbroker.fhir.store import FhirStore
from zorgbroker.portal.app import create_app as portal_app
from zorgbroker.registry.database import engine_for

PGO = "pgo.voorbeeld.nl"
REDIRECT = f"https://{PGO}/medmij/terug"
GGZ_SCOPE = "praktijk~24"
PATIENT_EMAIL = "bals@voorbeeld.nl"
HIDDEN = re.compile(r'<input type="hidden" name="([^"]+)" value="([^"]*)">')


@dataclass
class World:
    engine: Engine
    clock: FrozenClock
    services: AccountServices
    store: OAuthStore
    portal: TestClient
    fhir_url: str
    secret: str
    totp: pyotp.TOTP

    def pgo(self, scope: str = GGZ_SCOPE, **options: str) -> OAuth2Client:
        settings = {"redirect_uri": REDIRECT, "client_secret": self.secret, **options}
        return OAuth2Client(client_id=PGO, scope=scope, **settings)  # type: ignore[arg-type]

    def sign_in(self) -> None:
        page = self.portal.get("/aanmelden")
        step = self.portal.post(
            "/aanmelden",
            data={"csrf_token": csrf(page.text), "email": PATIENT_EMAIL, "password": GOOD_PASSWORD},
            headers={"Origin": ORIGIN},
        )
        assert step.headers["location"] == "/aanmelden/tweede-stap"
        second = self.portal.get("/aanmelden/tweede-stap")
        self.clock.advance(seconds=30)
        done = self.portal.post(
            "/aanmelden/totp",
            data={"csrf_token": csrf(second.text), "code": self.totp.at(self.clock.now())},
            headers={"Origin": ORIGIN},
        )
        assert done.status_code == 303
        self.last_sign_in = done

    def consent(self, client: OAuth2Client, answer: str = "toestaan") -> str:
        """The patient's browser: the PGO's authorization URL, sign-in if needed, the consent
        page, the answer. Returns where the browser is sent back to (the PGO's redirect_uri)."""
        url, _ = client.create_authorization_url(f"{ORIGIN}/medmij/autoriseren")
        page = self.portal.get(url)
        if page.status_code == 303 and page.headers["location"] == "/aanmelden":
            self.sign_in()
            assert self.last_sign_in.headers["location"].startswith("/medmij/autoriseren?")
            page = self.portal.get(self.last_sign_in.headers["location"])
        assert page.status_code == 200, page.text
        form = {name: html.unescape(value) for name, value in HIDDEN.findall(page.text)}
        answered = self.portal.post(
            "/medmij/autoriseren", data={**form, "besluit": answer}, headers={"Origin": ORIGIN}
        )
        assert answered.status_code == 303
        location: str = answered.headers["location"]
        return location


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _patient(services: AccountServices) -> tuple[int, pyotp.TOTP]:
    mailer: MemoryMailer = services.accounts.mailer  # type: ignore[attr-defined]
    practice = services.accounts.create_organisation("Praktijk patiënten")
    user_id = services.accounts.invite(None, practice, PATIENT_EMAIL, "Patiënt Bals", (), HOME)
    token = next(
        line for line in mailer.last_to(PATIENT_EMAIL).body.splitlines() if "/uitnodiging/" in line
    ).rsplit("/", 1)[1]
    services.accounts.accept_invitation(token, GOOD_PASSWORD, HOME)
    enrolment = services.two_factor.begin_totp(user_id)
    totp = pyotp.TOTP(enrolment.secret)
    return user_id, totp


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def world(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[World]:
    with ExitStack() as stack:
        if request.param == "sqlite":
            engine = demo_sqlite_engine(tmp_path / "zorgbroker.db")
        else:
            engine = engine_for(stack.enter_context(new_postgres_database()))
            upgrade(engine)
        yield from _world(engine)


def _world(engine: Engine) -> Iterator[World]:
    ensure_schema(engine)
    clock, mailer = FrozenClock(), MemoryMailer()
    FhirStore(engine, clock.now).load_files(
        [GGZ / "resources", MEDICATION / "resources"], LOAD_DATE
    )
    services = standin_services(engine, clock, mailer, base_url=ORIGIN)
    user_id, totp = _patient(services)
    services.two_factor.confirm_totp(user_id, totp.at(clock.now()), HOME)
    store = OAuthStore(engine, clock.now)
    store.link_patient(user_id, "XXX-Bals")
    secret = store.new_client_secret(PGO)
    authorization = AuthorizationService(
        read_lists(DEMO_LISTS), store, provider="praktijk", issuer=ORIGIN
    )
    portal = portal_app(services, origin=ORIGIN, demo_mailbox=mailer)
    portal.state.patient_access = PatientAccess(engine, authorization)
    fhir = FhirService(
        engine, StoredTokenVerifier(engine, clock.now), clock=clock.now, oauth=authorization
    )
    port = _free_port()
    server = uvicorn.Server(
        uvicorn.Config(fhir_app(fhir), host="127.0.0.1", port=port, log_level="warning")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.02)
    browser = TestClient(portal, base_url=ORIGIN, follow_redirects=False)
    yield World(engine, clock, services, store, browser, f"http://127.0.0.1:{port}", secret, totp)
    server.should_exit = True
    thread.join(10)
    engine.dispose()


def _code(location: str) -> str:
    return parse_qs(urlsplit(location).query)["code"][0]


TRACE = {"MedMij-Request-ID": "9f1c2a4e-0000-4000-8000-000000000001", "X-Correlation-ID": "corr-7"}


def test_consent_code_token_and_a_ggz_search(world: World) -> None:
    pgo = world.pgo()
    location = world.consent(pgo)
    assert location.startswith(REDIRECT + "?code=")

    token = pgo.fetch_token(
        f"{world.fhir_url}/oauth/token", authorization_response=location, headers=TRACE
    )
    assert token["token_type"] == "Bearer"
    assert token["expires_in"] == 15 * 60
    assert token["scope"] == GGZ_SCOPE

    bundle = pgo.get(f"{world.fhir_url}/Observation", headers=TRACE)
    assert bundle.status_code == 200
    assert bundle.json()["total"] > 0
    assert {e["resource"]["subject"]["reference"] for e in bundle.json()["entry"]} == {
        "Patient/XXX-Bals"
    }
    # MedMij's request headers come back and are in the access log.
    assert bundle.headers["MedMij-Request-ID"] == TRACE["MedMij-Request-ID"]
    assert bundle.headers["X-Correlation-ID"] == "corr-7"
    patient = pgo.get(f"{world.fhir_url}/Patient/XXX-Bals")
    assert patient.status_code == 200 and patient.json()["id"] == "XXX-Bals"
    with world.engine.connect() as conn:
        logged = conn.execute(
            select(AccessLogEntry.client_id, AccessLogEntry.scope, AccessLogEntry.request_id)
        ).all()
    assert {(c, s) for c, s, _ in logged} == {(PGO, GGZ_SCOPE)}
    assert TRACE["MedMij-Request-ID"] in {r for _, _, r in logged}
    # Neither code nor token is stored as such.
    with world.engine.connect() as conn:
        hashes = conn.execute(select(AuthorizationCode.code_hash)).scalars().all()
        hashes += conn.execute(select(AccessToken.token_hash)).scalars().all()
    assert _code(location) not in hashes and token["access_token"] not in hashes


def test_a_replayed_code_is_refused_and_revokes_its_token(world: World) -> None:
    pgo = world.pgo()
    location = world.consent(pgo)
    pgo.fetch_token(f"{world.fhir_url}/oauth/token", authorization_response=location)
    assert pgo.get(f"{world.fhir_url}/Patient").status_code == 200

    replay = world.pgo()
    with pytest.raises(OAuthError) as refused:
        replay.fetch_token(f"{world.fhir_url}/oauth/token", authorization_response=location)
    assert refused.value.error == "invalid_grant"
    # RFC 6749 §4.1.2: the token the code gave is revoked.
    assert pgo.get(f"{world.fhir_url}/Patient").status_code == 401


def test_an_expired_token_is_refused(world: World) -> None:
    pgo = world.pgo()
    pgo.fetch_token(f"{world.fhir_url}/oauth/token", authorization_response=world.consent(pgo))
    world.clock.advance(minutes=14, seconds=59)
    assert pgo.get(f"{world.fhir_url}/Patient").status_code == 200
    world.clock.advance(seconds=1)
    expired = pgo.get(f"{world.fhir_url}/Patient")
    assert expired.status_code == 401
    assert expired.json()["resourceType"] == "OperationOutcome"


def test_an_expired_code_is_refused(world: World) -> None:
    pgo = world.pgo()
    location = world.consent(pgo)
    world.clock.advance(minutes=5)
    with pytest.raises(OAuthError) as refused:
        pgo.fetch_token(f"{world.fhir_url}/oauth/token", authorization_response=location)
    assert refused.value.error == "invalid_grant"


def test_the_token_opens_no_other_patients_record(world: World) -> None:
    pgo = world.pgo()
    pgo.fetch_token(f"{world.fhir_url}/oauth/token", authorization_response=world.consent(pgo))
    other = pgo.get(f"{world.fhir_url}/Patient/XXX-Walsen")
    assert other.status_code == 404 and "Walsen" not in other.text.replace("XXX-Walsen", "")
    named = pgo.get(f"{world.fhir_url}/Observation", params={"patient": "XXX-Walsen"})
    assert named.status_code == 403
    observation = _first_id(world, "Observation", "XXX-Walsen")
    assert pgo.get(f"{world.fhir_url}/Observation/{observation}").status_code == 404


def _first_id(world: World, kind: str, patient: str) -> str:
    from zorgbroker.fhir.models import StoredResource

    with world.engine.connect() as conn:
        found: str = (
            conn.execute(
                select(StoredResource.resource_id).where(
                    StoredResource.resource_type == kind, StoredResource.patient_id == patient
                )
            )
            .scalars()
            .first()
        )
    return found


def test_a_wrong_redirect_is_refused_without_redirecting(world: World) -> None:
    for wrong in (
        "https://elders.example/medmij/terug",  # not the client's host
        f"http://{PGO}/medmij/terug",  # not https
        f"https://{PGO}.elders.example/terug",  # a look-alike host
    ):
        url, _ = world.pgo(redirect_uri=wrong).create_authorization_url(
            f"{ORIGIN}/medmij/autoriseren"
        )
        page = world.portal.get(url)
        assert page.status_code == 400
        assert "location" not in page.headers
        assert "terugkeeradres" in page.text
    missing, _ = OAuth2Client(client_id=PGO, scope=GGZ_SCOPE).create_authorization_url(
        f"{ORIGIN}/medmij/autoriseren"
    )
    assert world.portal.get(missing).status_code == 400


def test_the_code_is_bound_to_its_redirect_and_client(world: World) -> None:
    pgo = world.pgo()
    location = world.consent(pgo)
    elsewhere = world.pgo(redirect_uri=f"https://{PGO}/anders")
    with pytest.raises(OAuthError) as refused:
        elsewhere.fetch_token(f"{world.fhir_url}/oauth/token", authorization_response=location)
    assert refused.value.error == "invalid_grant"

    other_secret = world.store.new_client_secret("andere-pgo.voorbeeld.nl")
    thief = OAuth2Client(
        client_id="andere-pgo.voorbeeld.nl", client_secret=other_secret, redirect_uri=REDIRECT
    )
    with pytest.raises(OAuthError) as stolen:
        thief.fetch_token(f"{world.fhir_url}/oauth/token", code=_code(world.consent(pgo)))
    assert stolen.value.error == "invalid_grant"

    wrong_secret = world.pgo(client_secret="geraden")
    with pytest.raises(OAuthError) as unauthenticated:
        wrong_secret.fetch_token(
            f"{world.fhir_url}/oauth/token", authorization_response=world.consent(pgo)
        )
    assert unauthenticated.value.error == "invalid_client"


def test_a_scope_for_another_data_service_is_refused(world: World) -> None:
    # The GGZ token does not open medication.
    pgo = world.pgo()
    pgo.fetch_token(f"{world.fhir_url}/oauth/token", authorization_response=world.consent(pgo))
    refused = pgo.get(f"{world.fhir_url}/MedicationRequest")
    assert refused.status_code == 403
    assert refused.headers["WWW-Authenticate"] == 'Bearer error="insufficient_scope"'
    # A data service or provider this practice does not offer is refused at the start.
    for scope in ("praktijk~99", "anderepraktijk~24", "praktijk", "praktijk~24 andere~3"):
        url, state = world.pgo(scope=scope).create_authorization_url(f"{ORIGIN}/medmij/autoriseren")
        answer = world.portal.get(url)
        assert answer.status_code == 303
        back = parse_qs(urlsplit(answer.headers["location"]).query)
        assert back["error"] == ["invalid_scope"] and back["state"] == [state]


def test_consent_names_client_provider_and_data_service_and_can_be_refused(world: World) -> None:
    pgo = world.pgo(scope="praktijk~3")
    url, _ = pgo.create_authorization_url(f"{ORIGIN}/medmij/autoriseren")
    world.sign_in()
    page = world.portal.get(url)
    assert "Voorbeeld PGO" in page.text
    assert "praktijk@medmij" in page.text and "Medicatiegegevens" in page.text
    refused = world.consent(pgo, answer="weigeren")
    assert parse_qs(urlsplit(refused).query)["error"] == ["access_denied"]


def test_the_patient_reads_who_fetched_what(world: World) -> None:
    pgo = world.pgo()
    pgo.fetch_token(f"{world.fhir_url}/oauth/token", authorization_response=world.consent(pgo))
    count = pgo.get(f"{world.fhir_url}/Observation").json()["total"]
    assert 'href="/mijn-gegevens/opvragingen"' in world.portal.get("/").text  # in the menu
    page = world.portal.get("/mijn-gegevens/opvragingen")
    assert page.status_code == 200
    assert "Wie heeft mijn gegevens opgevraagd" in page.text
    row = next(r for r in page.text.split("<tr>") if "Voorbeeld PGO" in r)
    assert "Basisgegevens GGZ" in row
    assert f"{count} × Observation" in row
    assert "07-12-2026 09:" in row


def test_an_account_without_a_patient_cannot_consent(world: World) -> None:
    from sqlalchemy import delete

    from zorgbroker.fhir.models import PatientAccount

    with world.engine.begin() as conn:
        conn.execute(delete(PatientAccount))
    world.sign_in()
    url, _ = world.pgo().create_authorization_url(f"{ORIGIN}/medmij/autoriseren")
    page = world.portal.get(url)
    assert page.status_code == 403 and "niet gekoppeld aan een patiëntdossier" in page.text
    assert "/mijn-gegevens/opvragingen" not in world.portal.get("/").text
    assert world.portal.get("/mijn-gegevens/opvragingen").status_code == 403


def test_a_password_alone_is_not_enough_to_consent(world: World) -> None:
    """The second factor stands in for DigiD: an account that signs in without one (its
    organisation does not require two steps) cannot consent."""
    import dataclasses

    mailer: MemoryMailer = world.services.accounts.mailer  # type: ignore[attr-defined]
    accounts = world.services.accounts
    relaxed = accounts.create_organisation("Praktijk zonder tweede stap")
    policy = dataclasses.replace(accounts.organisation_policy(relaxed), two_step_required=False)
    accounts.set_policy(None, relaxed, policy, HOME)
    email = "walsen@voorbeeld.nl"
    user_id = accounts.invite(None, relaxed, email, "Patiënt Walsen", (), HOME)
    link = next(line for line in mailer.last_to(email).body.splitlines() if "/uitnodiging/" in line)
    accounts.accept_invitation(link.rsplit("/", 1)[1], GOOD_PASSWORD, HOME)
    world.store.link_patient(user_id, "XXX-Walsen")

    url, _ = world.pgo().create_authorization_url(f"{ORIGIN}/medmij/autoriseren")
    assert world.portal.get(url).headers["location"] == "/aanmelden"
    page = world.portal.get("/aanmelden")
    signed_in = world.portal.post(
        "/aanmelden",
        data={"csrf_token": csrf(page.text), "email": email, "password": GOOD_PASSWORD},
        headers={"Origin": ORIGIN},
    )
    back = signed_in.headers["location"]
    assert back.startswith("/medmij/autoriseren?")  # signed in, sent back to the request
    refused = world.portal.get(back)
    assert refused.status_code == 403 and "twee stappen" in refused.text
    assert "Toestemming geven" not in refused.text


def test_the_token_endpoint_echoes_medmij_headers_and_is_not_cached(world: World) -> None:
    import httpx

    answer = httpx.post(
        f"{world.fhir_url}/oauth/token",
        data={"grant_type": "authorization_code", "code": "geraden", "redirect_uri": REDIRECT},
        auth=(PGO, world.secret),
        headers=TRACE,
    )
    assert answer.status_code == 400 and answer.json()["error"] == "invalid_grant"
    assert answer.headers["MedMij-Request-ID"] == TRACE["MedMij-Request-ID"]
    assert answer.headers["X-Correlation-ID"] == TRACE["X-Correlation-ID"]
    assert answer.headers["Cache-Control"] == "no-store"


def test_expired_tokens_and_spent_codes_are_purged(world: World) -> None:
    authorization: AuthorizationService = world.portal.app.state.patient_access.authorization  # type: ignore[attr-defined]
    pgo = world.pgo()
    location = world.consent(pgo)
    pgo.fetch_token(f"{world.fhir_url}/oauth/token", authorization_response=location)
    assert authorization.purge_expired() == 0
    world.clock.advance(minutes=16)  # the token has expired; its code may still be replayed
    assert authorization.purge_expired() == 1
    world.clock.advance(minutes=5)  # now every token of the code has expired as well
    assert authorization.purge_expired() == 1
    with world.engine.connect() as conn:
        assert conn.execute(select(AuthorizationCode.pk)).all() == []
        assert conn.execute(select(AccessToken.pk)).all() == []
    with pytest.raises(OAuthError) as refused:
        world.pgo().fetch_token(f"{world.fhir_url}/oauth/token", authorization_response=location)
    assert refused.value.error == "invalid_grant"
