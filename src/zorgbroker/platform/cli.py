"""`zorgbroker demo` (the platform on one machine) and `zorgbroker serve` (the portal in
production)."""

from __future__ import annotations

import socket
import sys
from typing import TYPE_CHECKING, Annotated

import typer
from pydantic import SecretStr

from zorgbroker.cli.common import EXIT_FAILED, fail_usage, print_error
from zorgbroker.settings import Settings, get_settings

if TYPE_CHECKING:
    from zorgbroker.platform.demo import KeptInvitations
    from zorgbroker.platform.demo_patient import DemoPatient
    from zorgbroker.platform.ttp_process import TTPProcess

#: The demo listens here only: it is not meant to be reached from other machines.
DEMO_HOST = "127.0.0.1"


def _port_free(host: str, port: int) -> bool:
    with socket.socket() as probe:
        try:
            probe.bind((host, port))
        except OSError:
            return False
    return True


def demo_command(
    port: Annotated[int, typer.Option(min=1, max=65535, help="Poort van het portaal.")] = 8000,
    check_only: Annotated[
        bool,
        typer.Option(
            "--alleen-controle",
            help="Start geen portaal: maak alleen een demobestand (nhr-pmicd, synthetisch) en "
            "controleer het.",
        ),
    ] = False,
    rows: Annotated[
        int, typer.Option(help="Aantal procedures in het demobestand (--alleen-controle).")
    ] = 20_000,
    error_rate: Annotated[
        float, typer.Option(help="Aandeel records met een ingebouwde fout (--alleen-controle).")
    ] = 0.01,
) -> None:
    """Start het platform op deze machine met demo-organisaties en -gebruikers; stoppen met Ctrl-C.

    Alles staat onder ZORGBROKER_HOME: de SQLite-database, de sleutels van de TTP en de lokale
    postbus, die het portaal op /demo/mailbox toont. Met --alleen-controle start er geen portaal
    en wordt alleen een demobestand gemaakt en gecontroleerd.
    """
    if check_only:
        from zorgbroker.intake.cli import check_demo

        check_demo(rows=rows, error_rate=error_rate)
        return
    if not _port_free(DEMO_HOST, port):
        raise fail_usage(f"poort {port} is al in gebruik; kies een andere met --port.")
    from zorgbroker.fhir.oauth.lists import ListError
    from zorgbroker.platform.demo import HOSPITAL_AGB
    from zorgbroker.platform.ttp_process import TTPDidNotStart, running_ttp

    settings = get_settings()
    try:
        with running_ttp(settings.home, source=HOSPITAL_AGB) as ttp:
            _run_demo(settings, port, ttp)
    except (TTPDidNotStart, ListError) as exc:
        print_error(str(exc))
        raise typer.Exit(EXIT_FAILED) from None
    typer.echo("Demo gestopt.")


def _run_demo(settings: Settings, port: int, ttp: TTPProcess) -> None:
    """The portal in this process, its uploads relayed to the TTP process `ttp`; returns when
    the portal stops (Ctrl-C) and raises when it cannot start."""
    import uvicorn

    from zorgbroker.composition import account_services, portal_app
    from zorgbroker.platform.demo import (
        DEMO_REGISTRIES,
        DEMO_TTP_PASSWORD,
        HOSPITAL_AGB,
        KeptInvitations,
        demo_files,
        set_up,
    )
    from zorgbroker.platform.ttp_process import enrol_demo_uploader
    from zorgbroker.portal.access_log import install

    # One machine whatever the environment says: SQLite under ZORGBROKER_HOME, jobs in this
    # process, mail in the local mailbox folder, the TTP in the process started for the demo.
    # Demo users never land in a production database.
    settings = settings.model_copy(
        update={
            "database_url": None,
            "jobs": "inline",
            "smtp_host": None,
            "ttp_url": ttp.url,
            "ttp_token": SecretStr(ttp.token),
        }
    )
    # localhost, not 127.0.0.1: a passkey's relying party must be a name, not an address.
    url = f"http://localhost:{port}"
    invitations = KeptInvitations()
    users = set_up(account_services(settings, url, mailer=invitations).accounts, invitations)
    patient = _demo_patient(settings, url, invitations)
    for user in users:
        if user.ttp_enrolled:
            enrol_demo_uploader(
                ttp, settings.home, email=user.email, organisation=HOSPITAL_AGB,
                registries=DEMO_REGISTRIES, password=DEMO_TTP_PASSWORD,
            )  # fmt: skip
    app = portal_app(settings, account_services(settings, url), origin=url, demo=True)
    install()
    lines = [
        f"Het zorgbroker-portaal draait op {url}  (stoppen met Ctrl-C)",
        f"De TTP draait als eigen proces op {ttp.url}  (gegevens in {settings.home / 'ttp'})",
        "",
        "Aanmelden met de demogebruikers (wachtwoorden alleen voor deze demo):",
    ]
    for user in users:
        lines.append(f"  {user.email}  wachtwoord: {user.password}")
        lines.append(f"    {user.name}, {user.role_labels}, {user.organisation}")
        if user.ttp_enrolled:
            lines.append(
                f"    TTP-wachtwoord voor aanleveren in productie: {DEMO_TTP_PASSWORD}  "
                f"(bij de TTP ingeschreven voor "
                f"{', '.join(DEMO_REGISTRIES)}: hiermee opent de browser de projectsleutel "
                "bij een aanlevering in productie; de mail van de TTP staat in de demo-mailbox)"
            )
    lines += _patient_lines(patient)
    lines += [
        "",
        "Tweestapsverificatie is in de demo-organisaties niet verplicht (aan te zetten onder "
        "Wachtwoordbeleid); een authenticator-app of passkey koppelt u vanaf de startpagina.",
        f"Verstuurde mail (uitnodigingen, inlogcodes): {url}/demo/mailbox of 'zorgbroker mail'.",
        "Demobestanden om aan te leveren (als de datamanager, onder Aanleveren): "
        + ", ".join(str(path) for path in demo_files(settings.home)),
        f"Gegevens van de demo: {settings.home}",
    ]
    typer.echo("\n".join(lines))
    sys.stdout.flush()
    uvicorn.run(app, host=DEMO_HOST, port=port, log_level="warning")


def _demo_patient(settings: Settings, url: str, invitations: KeptInvitations) -> DemoPatient:
    from zorgbroker.composition import account_services, fhir_engine, fhir_oauth_store
    from zorgbroker.platform.demo_patient import set_up_patient

    accounts = account_services(settings, url, mailer=invitations).accounts
    return set_up_patient(accounts, invitations, fhir_oauth_store(fhir_engine(settings)))


def _patient_lines(patient: DemoPatient) -> list[str]:
    fixtures = "../shared/fixtures/nictiz-stu3/qualification-ggz-2-0/resources"
    return [
        f"  {patient.email}  wachtwoord: {patient.password}",
        f"    patiënt {patient.patient_id} (MedMij): met tweestapsverificatie ziet deze "
        "'Wie heeft mijn gegevens opgevraagd'. Laad het dossier, maak een token en zoek:",
        f"      zorgbroker fhir load {fixtures}",
        f"      zorgbroker fhir token --patient {patient.patient_id} --scope praktijk~24",
        "      zorgbroker fhir serve --port 8080  en  curl -H 'Authorization: Bearer TOKEN' "
        "http://127.0.0.1:8080/Condition",
    ]


def serve_command(
    host: Annotated[str, typer.Option(help="Adres om op te luisteren.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=1, max=65535, help="Poort.")] = 8000,
    workers: Annotated[int, typer.Option(min=1, help="Aantal processen.")] = 1,
) -> None:
    """Start het portaal in productie, achter een proxy die HTTPS afhandelt; stoppen met Ctrl-C.

    Nodig: ZORGBROKER_PORTAL_URL (het publieke adres) en ZORGBROKER_DATABASE_URL (PostgreSQL).
    Sessies en pogingentellers staan in de database, dus processen op meerdere machines kunnen
    naast elkaar draaien.
    """
    import uvicorn

    from zorgbroker.composition import PortalUrlMissing, production_portal
    from zorgbroker.fhir.oauth.lists import ListError
    from zorgbroker.registry.registry_db import RegistryMissing, RegistryUnavailable
    from zorgbroker.settings import POSTGRES_SCHEME

    settings = get_settings()
    if not (settings.database_url or "").startswith(POSTGRES_SCHEME):
        raise fail_usage(
            "zorgbroker serve draait tegen PostgreSQL: stel ZORGBROKER_DATABASE_URL in "
            "(bijvoorbeeld postgresql+psycopg://gebruiker@server/database). Op één machine: "
            "zorgbroker demo."
        )
    try:
        # Built here once to report a missing setting or an unreachable database before
        # listening; the worker processes build their own from the same environment.
        app = production_portal()
    except PortalUrlMissing as exc:
        raise fail_usage(str(exc).removeprefix("Fout: ")) from None
    except (RegistryMissing, RegistryUnavailable) as exc:
        print_error(exc.message)
        raise typer.Exit(EXIT_FAILED) from None
    except ListError as exc:  # a MedMij list (ZORGBROKER_MEDMIJ_LISTS_DIR) that is invalid
        print_error(str(exc))
        raise typer.Exit(EXIT_FAILED) from None
    # Behind a proxy: the client's address and scheme come from its X-Forwarded-* headers
    # (trusted from the addresses in FORWARDED_ALLOW_IPS, uvicorn's setting; 127.0.0.1 by default).
    if workers == 1:
        uvicorn.run(app, host=host, port=port, proxy_headers=True, log_level="info")
    else:
        uvicorn.run(
            "zorgbroker.composition:production_portal", factory=True, workers=workers,
            host=host, port=port, proxy_headers=True, log_level="info",
        )  # fmt: skip
