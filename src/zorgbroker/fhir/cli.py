"""`zorgbroker fhir ...`: load resources, mint a demo token, serve, and run TestScripts."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Annotated

import httpx
import typer
from sqlalchemy import Engine
from sqlalchemy.exc import OperationalError

from zorgbroker.cli.common import fail, fail_usage
from zorgbroker.settings import get_settings

#: The status of a command that failed (docs/fhir.md), where the platform's other commands use 3.
FAILED = 1

fhir_app = typer.Typer(
    help="FHIR-server voor patiënttoegang (MedMij): laden, tokens, serveren, TestScripts.",
    no_args_is_help=True,
)


@fhir_app.command("load")
def load_command(
    paths: Annotated[list[Path], typer.Argument(help="XML- of JSON-bestanden of mappen.")],
    date: Annotated[
        str | None,
        typer.Option(
            "--datum", help="Datum T voor ${DATE, T, ...} (JJJJ-MM-DD); standaard vandaag."
        ),
    ] = None,
) -> None:
    """Laad FHIR STU3-resources in de database (een fout bestand: niets wordt geladen)."""
    from zorgbroker.composition import fhir_engine
    from zorgbroker.fhir.store import FhirStore, LoadError, files_in
    from zorgbroker.registry.registry_db import RegistryMissing, RegistryUnavailable

    missing = [p for p in paths if not p.exists()]
    if missing:
        raise fail_usage(f"{missing[0]} bestaat niet")
    try:
        today = dt.date.fromisoformat(date) if date else dt.date.today()
    except ValueError:
        raise fail_usage(f"--datum '{date}' is geen datum JJJJ-MM-DD") from None
    files = files_in(paths)
    try:
        engine = fhir_engine(get_settings())
    except RegistryMissing as error:
        raise fail_usage(error.message) from None
    except RegistryUnavailable as error:
        raise fail(error.message, FAILED) from None
    try:
        count = FhirStore(engine).load_files(files, today)
    except LoadError as error:
        raise fail(f"{error.message}; er is niets geladen", FAILED) from None
    except OperationalError:
        raise fail(
            "de database is niet bereikbaar; controleer ZORGBROKER_DATABASE_URL", FAILED
        ) from None
    typer.echo(f"{count} resources geladen uit {len(files)} bestanden.")


def _engine() -> Engine:
    from zorgbroker.composition import fhir_engine
    from zorgbroker.registry.registry_db import RegistryMissing, RegistryUnavailable

    try:
        return fhir_engine(get_settings())
    except RegistryMissing as error:
        raise fail_usage(error.message) from None
    except RegistryUnavailable as error:
        raise fail(error.message, FAILED) from None


@fhir_app.command("token")
def token_command(
    patient: Annotated[str, typer.Option("--patient", help="Resource-id van de patiënt.")],
    scope: Annotated[str, typer.Option("--scope", help="zorgaanbiedernaam~gegevensdienstid")],
    client: Annotated[str, typer.Option("--client", help="Naam van de PGO (client).")] = "demo",
    minutes: Annotated[
        int | None, typer.Option("--minuten", min=1, help="Geldigheid (standaard de instelling).")
    ] = None,
) -> None:
    """Maak een toegangstoken voor demo's en tests, zonder PGO en toestemming."""
    from zorgbroker.composition import authorization_service
    from zorgbroker.fhir.oauth.lists import ListError

    settings = get_settings()
    engine = _engine()
    try:
        service = authorization_service(settings, engine)
    except ListError as error:
        raise fail(str(error), FAILED) from None
    if not service.scope_is_offered(scope):
        offered = ", ".join(service.offered_scopes())
        raise fail_usage(f"--scope '{scope[:100]}' wordt hier niet aangeboden; wel: {offered}")
    lifetime = minutes or settings.medmij_token_minutes
    token = service.store.issue_token(
        client_id=client, patient_id=patient, scope=scope, lifetime=dt.timedelta(minutes=lifetime)
    )
    typer.echo(token)


@fhir_app.command("client-secret")
def client_secret_command(
    hostname: Annotated[str, typer.Argument(help="Hostname van de PGO op de OAuth-clientlijst.")],
) -> None:
    """Maak een nieuw geheim waarmee een PGO zich bij het token-endpoint aanmeldt."""
    from zorgbroker.composition import authorization_service
    from zorgbroker.fhir.oauth.lists import ListError

    engine = _engine()
    try:
        service = authorization_service(get_settings(), engine)
    except ListError as error:
        raise fail(str(error), FAILED) from None
    if hostname not in service.lists.clients:
        raise fail_usage(f"{hostname} staat niet op de OAuth-clientlijst")
    typer.echo(service.store.new_client_secret(hostname))


@fhir_app.command("patient-koppelen")
def link_patient_command(
    email: Annotated[str, typer.Option("--email", help="E-mailadres van het portaalaccount.")],
    patient: Annotated[str, typer.Option("--patient", help="Resource-id van de patiënt.")],
) -> None:
    """Koppel een portaalaccount aan een patiënt: dat account geeft toestemming aan PGO's."""
    from zorgbroker.composition import account_services, fhir_oauth_store

    settings = get_settings()
    engine = _engine()
    services = account_services(settings, settings.portal_url or "http://localhost")
    user_id = services.accounts.find_user(email)
    if user_id is None:
        raise fail_usage(f"er is geen account met e-mailadres {email}")
    fhir_oauth_store(engine).link_patient(user_id, patient)
    typer.echo(f"{email} is gekoppeld aan patiënt {patient}.")


@fhir_app.command("serve")
def serve_command(
    host: Annotated[str, typer.Option(help="Adres om op te luisteren.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Poort.")] = 8080,
    base_url: Annotated[
        str | None, typer.Option("--basis-url", help="Publieke basis-URL voor fullUrl en links.")
    ] = None,
    tls_cert: Annotated[
        Path | None, typer.Option("--tls-certificaat", help="Certificaat (PEM) voor https.")
    ] = None,
    tls_key: Annotated[
        Path | None, typer.Option("--tls-sleutel", help="Privésleutel (PEM) bij het certificaat.")
    ] = None,
    workers: Annotated[int, typer.Option("--workers", min=1, help="Aantal processen.")] = 1,
) -> None:
    """Start de FHIR-server met het token-endpoint (https met TLS 1.2 of 1.3 als een
    certificaat is gegeven; anders http achter een proxy die TLS afhandelt)."""
    import functools

    import uvicorn
    from uvicorn.supervisors import Multiprocess

    from zorgbroker.composition import fhir_app, fhir_service
    from zorgbroker.fhir.oauth.lists import ListError
    from zorgbroker.fhir.routes import create_app
    from zorgbroker.fhir.tls import server_config

    if (tls_cert is None) != (tls_key is None):
        raise fail_usage("geef --tls-certificaat en --tls-sleutel samen")
    for path in (tls_cert, tls_key):
        if path is not None and not path.is_file():
            raise fail_usage(f"{path} bestaat niet")
    try:
        # Built here to report a bad list or database before listening; with several workers
        # each process builds its own from the same settings.
        service = fhir_service(get_settings(), base_url)
    except ListError as error:
        raise fail(str(error), FAILED) from None
    if workers == 1:
        app: object = create_app(service)
    else:
        service.close()
        service.engine.dispose()  # the supervisor serves nothing: it keeps no connections open
        app = functools.partial(fhir_app, base_url)
    config = server_config(app, host=host, port=port, cert=tls_cert, key=tls_key, workers=workers)
    if workers == 1:
        uvicorn.Server(config).run()
    else:
        Multiprocess(config, sockets=[config.bind_socket()]).run()


def _variables(pairs: list[str]) -> dict[str, str]:
    out: dict[str, str] = {}
    for pair in pairs:
        name, equals, value = pair.partition("=")
        if not equals or not name:
            raise fail_usage(f"--variabele '{pair.split('=')[0]}' heeft de vorm NAAM=WAARDE")
        out[name] = value
    return out


@fhir_app.command("testscript")
def testscript_command(
    scripts: Annotated[list[Path], typer.Argument(help="TestScript-bestanden (XML).")],
    server: Annotated[str, typer.Option("--server", help="Basis-URL van de FHIR-server.")],
    variable: Annotated[
        list[str] | None,
        typer.Option("--variabele", help="NAAM=WAARDE, bv. patient-token-XXX-Bals='Bearer ...'."),
    ] = None,
    report_dir: Annotated[
        Path | None, typer.Option("--rapport", help="Map voor de TestReports (JSON).")
    ] = None,
) -> None:
    """Voer Nictiz-TestScripts uit tegen een server en schrijf een TestReport."""
    from zorgbroker.fhir.testscript import TestScriptError, TestScriptRunner, build_test_report

    values = _variables(variable or [])
    failed = False
    with httpx.Client(timeout=30) as client:
        runner = TestScriptRunner(client, server, variables=values)
        for script in scripts:
            try:
                result = runner.run(script)
            except TestScriptError as error:
                raise fail_usage(str(error)) from None
            counts = {o: result.count(o) for o in ("pass", "fail", "warning", "skip", "error")}
            verdict = "GESLAAGD" if result.passed else "MISLUKT"
            typer.echo(
                f"{script.name}: {verdict} — {counts['pass']} geslaagd, {counts['fail']} mislukt, "
                f"{counts['error']} fout, {counts['warning']} waarschuwing, "
                f"{counts['skip']} overgeslagen (profielvalidatie e.d.)"
            )
            for test in result.tests:
                for action in test.actions:
                    if action.result in ("fail", "error", "warning"):
                        typer.echo(
                            f"  {test.test_id}: {action.result}: {action.description[:100]}"
                            f" — {action.message[:200]}"
                        )
            failed = failed or not result.passed
            if report_dir is not None:
                report_dir.mkdir(parents=True, exist_ok=True)
                target = report_dir / f"{script.stem}-testreport.json"
                target.write_text(
                    json.dumps(build_test_report(result), ensure_ascii=False, indent=1)
                )
    if failed:
        raise typer.Exit(1)
