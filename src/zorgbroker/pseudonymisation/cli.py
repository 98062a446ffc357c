"""Command line of the TTP (`zorgbroker ttp ...`) and of the source side
(`zorgbroker pseudonymise ...`). Everything printed is Dutch and never shows a key or a BSN."""

from __future__ import annotations

import base64
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Annotated, TypeVar

import typer

from zorgbroker.pseudonymisation.custody import (
    KeyCustodyError,
    source_key,
    zb1_source_key,
    zorgbroker_home,
)
from zorgbroker.pseudonymisation.errors import BatchRejected, TTPError
from zorgbroker.pseudonymisation.method import fingerprint, is_reidentifiable
from zorgbroker.pseudonymisation.ratelimit import Limits
from zorgbroker.pseudonymisation.ttp import TrustedThirdParty

ttp_app = typer.Typer(
    help="De vertrouwde derde partij (TTP): sleutels, pseudonimisering, heridentificatie, audit.",
    no_args_is_help=True,
)

T = TypeVar("T")

OfficerToken = Annotated[
    str,
    typer.Option(
        "--token",
        envvar="ZORGBROKER_OFFICER_TOKEN",
        prompt="Uw functionaristoken",
        hide_input=True,
        help="Persoonlijk token van de TTP-functionaris (of ZORGBROKER_OFFICER_TOKEN).",
    ),
]


def _ttp() -> TrustedThirdParty:
    return TrustedThirdParty(zorgbroker_home())


def _run(action: Callable[[], T]) -> T:
    """Known failures become one Dutch line and exit status 1, never a traceback."""
    try:
        return action()
    except (TTPError, KeyCustodyError) as error:
        typer.echo(f"Fout: {error}", err=True)
        raise typer.Exit(1) from None


@ttp_app.command()
def init(
    registry: Annotated[
        list[str] | None, typer.Option("--registry", help="Maak ook de sleutel van dit register.")
    ] = None,
    project_key: Annotated[
        bool,
        typer.Option(
            "--project-key/--no-project-key",
            help="Maak in deze installatie ook de bronsleutel van het project van elk --registry "
            "(uitzetten voor een TTP op een eigen machine: de bronnen krijgen die sleutel met "
            "'ttp source-key-export').",
        ),
    ] = True,
) -> None:
    """Maak de map, sleutels, database en het auditlog van de TTP aan (mag vaker)."""
    ttp = _ttp()
    fresh = _run(lambda: ttp.init(registry or []))
    typer.echo(("TTP aangemaakt in " if fresh else "TTP bestaat al in ") + str(ttp.root))
    _print_fingerprints(ttp)
    if project_key:
        home = zorgbroker_home()
        for name in registry or []:
            key = _run(partial(source_key, home, name))
            typer.echo(f"  bronsleutel project {name}: {fingerprint(key)}")
        _warn_zb1(home)


def _warn_zb1(home: Path) -> None:
    if zb1_source_key(home) is not None:
        typer.echo(
            "Let op: deze installatie heeft nog de bronsleutel van methode zb1 "
            "(source/source.key). Pseudoniemen van nieuwe aanleveringen (zb2) komen niet overeen "
            "met de zb1-pseudoniemen die een register al heeft; zie docs/pseudonymisation.md, "
            "paragraaf 2.1.",
            err=True,
        )


@ttp_app.command()
def serve(
    host: Annotated[str, typer.Option(help="Adres om op te luisteren.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Poort.")] = 8470,
    requests_per_second: Annotated[
        float, typer.Option(help="Verzoeken per seconde per bron.")
    ] = 50,
    items_per_second: Annotated[
        float, typer.Option(help="Pseudoniemen per seconde per bron.")
    ] = 2_000_000,
    max_batch: Annotated[int, typer.Option(help="Hoogstens zoveel pseudoniemen per verzoek.")] = (
        250_000
    ),
) -> None:
    """Start de TTP als webdienst (alleen stap-1-pseudoniemen, per bronorganisatie beveiligd)."""
    from zorgbroker.pseudonymisation.service import serve as run_service

    limits = Limits(
        requests_per_second=requests_per_second,
        request_burst=requests_per_second * 4,
        items_per_second=items_per_second,
        item_burst=items_per_second * 5,
        max_batch=max_batch,
    )
    typer.echo(f"TTP-dienst op http://{host}:{port} (stoppen met Ctrl+C)")
    run_service(zorgbroker_home(), host=host, port=port, limits=limits)


@ttp_app.command("audit-verify")
def audit_verify() -> None:
    """Controleer de hele keten van het auditlog; exit 1 bij een gewijzigde of ontbrekende regel."""
    ttp = _ttp()
    result = _run(lambda: ttp.audit.verify())
    if result.intact:
        typer.echo(f"Auditlog intact: {result.entries} regels, kop {result.head}.")
        return
    typer.echo(
        f"Auditlog NIET intact: eerste foute regel is {result.first_bad} ({result.problem}).",
        err=True,
    )
    raise typer.Exit(1)


@ttp_app.command("source-add")
def source_add(organisation: Annotated[str, typer.Argument(help="AGB-code van de bron.")]) -> None:
    """Geef een bronorganisatie een (nieuw) toegangstoken voor de dienst."""
    token = _run(lambda: _ttp().add_source(organisation))
    typer.echo(f"Toegangstoken voor {organisation} (wordt niet opnieuw getoond):\n{token}")


class _PlatformMail:
    """The TTP's mail goes out as the installation's other mail does: through the SMTP server
    of ZORGBROKER_SMTP_HOST, else into the local mailbox folder (`zorgbroker mail`)."""

    def send(self, to: str, subject: str, body: str) -> None:
        import datetime as dt
        from email.message import EmailMessage
        from email.utils import format_datetime, make_msgid

        from zorgbroker.mail.transport import deliver
        from zorgbroker.settings import get_settings

        settings = get_settings(fresh=True)
        message = EmailMessage()
        message["Subject"] = subject
        message["From"] = settings.mail_from
        message["To"] = to
        message["Date"] = format_datetime(dt.datetime.now(dt.UTC))
        message["Message-ID"] = make_msgid("ttp-wachtwoord", domain="zorgbroker.local")
        message["Auto-Submitted"] = "auto-generated"
        message.set_content(body)
        deliver(message, settings)


@ttp_app.command()
def enrol(
    email: Annotated[str, typer.Option(help="E-mailadres van de aanleveraar.")],
    organisation: Annotated[
        str, typer.Option(help="AGB-code van de organisatie waarvoor hij of zij aanlevert.")
    ],
    registry: Annotated[str, typer.Option(help="Het register, bv. nhr.")],
    ttp_url: Annotated[
        str,
        typer.Option(
            "--ttp-adres",
            envvar="ZORGBROKER_TTP_PUBLIC_URL",
            help="Publiek adres van deze TTP-dienst, waar de link naartoe wijst "
            "(of ZORGBROKER_TTP_PUBLIC_URL).",
        ),
    ] = "http://127.0.0.1:8470",
) -> None:
    """Schrijf een aanleveraar in voor het portaal en mail een link om het TTP-wachtwoord in te
    stellen (ook om het opnieuw in te stellen)."""
    from zorgbroker.cli.common import EXIT_FAILED, EXIT_USAGE, fail
    from zorgbroker.mail.transport import DeliveryFailed
    from zorgbroker.pseudonymisation.enrolment import SourceKeyCustody

    custody = SourceKeyCustody(_ttp())
    try:
        enrolment = custody.enrol(
            email, organisation, registry, base_url=ttp_url, mailer=_PlatformMail()
        )
    except BatchRejected as error:
        raise fail(error.message, EXIT_USAGE) from None
    except (TTPError, KeyCustodyError) as error:
        raise fail(str(error), EXIT_FAILED) from None
    except DeliveryFailed:
        raise fail(
            f"de mail aan {email} kon niet worden verstuurd (SMTP-server). Probeer het later "
            "opnieuw; een nieuwe inschrijving maakt een nieuwe link.",
            EXIT_FAILED,
        ) from None
    until = enrolment.link_expires.strftime("%d-%m-%Y %H:%M UTC")
    typer.echo(
        f"{enrolment.email} (AGB {enrolment.organisation}) is ingeschreven voor register "
        f"{enrolment.registry}; de link om het TTP-wachtwoord in te stellen is gemaild en "
        f"geldig tot {until}."
    )


@ttp_app.command("source-key-export")
def source_key_export(
    registry: Annotated[str, typer.Option(help="Het register van het project, bv. nhr.")],
    output: Annotated[
        Path, typer.Option("--output", "-o", help="Nieuw sleutelbestand (mag nog niet bestaan).")
    ],
) -> None:
    """Geef de bronsleutel van een project uit aan een broninstallatie (bestand, alleen voor u
    leesbaar); de bron zet het in $ZORGBROKER_HOME/source/project-<register>.key."""
    from zorgbroker.cli.common import EXIT_FAILED, EXIT_USAGE, fail
    from zorgbroker.pseudonymisation.custody import write_new_key
    from zorgbroker.pseudonymisation.enrolment import SourceKeyCustody

    if output.exists():
        raise fail(f"{output} bestaat al; kies een nieuw bestand.", EXIT_USAGE)
    ttp = _ttp()
    try:
        key = SourceKeyCustody(ttp).project_key(registry)
        write_new_key(output, key)
    except ValueError as error:
        raise fail(str(error), EXIT_USAGE) from None
    except (KeyCustodyError, OSError) as error:
        raise fail(str(error), EXIT_FAILED) from None
    ttp.audit.append(
        "bronsleutel-uitgegeven", "ttp", {"register": registry, "vingerafdruk": fingerprint(key)}
    )
    typer.echo(
        f"Bronsleutel van project {registry} (vingerafdruk {fingerprint(key)}) staat in "
        f"{output}. Breng het bestand veilig naar de bron: "
        f"$ZORGBROKER_HOME/source/project-{registry}.key, rechten 0600."
    )


@ttp_app.command("officer-add")
def officer_add(name: Annotated[str, typer.Argument(help="Naam van de functionaris.")]) -> None:
    """Machtig een TTP-functionaris voor heridentificatiebesluiten."""
    token = _run(lambda: _ttp().add_officer(name))
    typer.echo(f"Persoonlijk token voor {name} (wordt niet opnieuw getoond):\n{token}")


@ttp_app.command("reid-request")
def reid_request(
    registry: Annotated[str, typer.Option(help="Het register dat het verzoek doet.")],
    reason: Annotated[str, typer.Option(help="Reden, bijvoorbeeld de terugroepactie.")],
    pseudonyms: Annotated[
        Path,
        typer.Option(exists=True, dir_okay=False, help="Bestand met één pseudoniem per regel."),
    ],
    requested_by: Annotated[str, typer.Option(help="Wie het verzoek namens het register doet.")],
) -> None:
    """Leg een heridentificatieverzoek vast; het wacht op twee verschillende functionarissen."""
    lines = [line for line in pseudonyms.read_text(encoding="utf-8").splitlines() if line.strip()]
    request = _run(
        lambda: _ttp().request_reidentification(
            registry, lines, reason=reason, requested_by=requested_by
        )
    )
    typer.echo(
        f"Verzoek {request.id} vastgelegd ({len(lines)} pseudoniemen); "
        "wacht op goedkeuring door twee verschillende functionarissen."
    )


@ttp_app.command("reid-approve")
def reid_approve(
    request_id: Annotated[str, typer.Argument(help="Nummer van het verzoek.")],
    token: OfficerToken,
) -> None:
    """Keur een heridentificatieverzoek goed (als functionaris)."""
    request = _run(lambda: _ttp().decide(request_id, officer_token=token, approve=True))
    if request.status == "approved":
        typer.echo(f"Verzoek {request_id} is goedgekeurd door twee functionarissen.")
    else:
        typer.echo(
            f"Goedkeuring vastgelegd; verzoek {request_id} wacht op een tweede functionaris."
        )


@ttp_app.command("reid-refuse")
def reid_refuse(
    request_id: Annotated[str, typer.Argument(help="Nummer van het verzoek.")],
    token: OfficerToken,
    reason: Annotated[str, typer.Option(help="Waarom het verzoek wordt afgewezen.")] = "",
) -> None:
    """Wijs een heridentificatieverzoek af; het kan daarna niet meer worden uitgevoerd."""
    _run(
        lambda: _ttp().decide(request_id, officer_token=token, approve=False, reason=reason or None)
    )
    typer.echo(f"Verzoek {request_id} is afgewezen.")


@ttp_app.command("reid-resolve")
def reid_resolve(
    request_id: Annotated[str, typer.Argument(help="Nummer van het verzoek.")],
    token: OfficerToken,
) -> None:
    """Voer een goedgekeurd verzoek uit: één antwoordbestand per behandelend ziekenhuis."""
    result = _run(lambda: _ttp().resolve(request_id, officer_token=token))
    typer.echo(
        f"Verzoek {request_id} uitgevoerd. Antwoorden voor de ziekenhuizen in {result.folder}:"
    )
    for source, count in result.per_source.items():
        typer.echo(f"  {source}: {count} patiënten")
    if result.not_found:
        typer.echo(f"  niet gevonden: {result.not_found} pseudoniemen")
    typer.echo("Stuur elk bestand alleen aan het genoemde ziekenhuis, nooit aan het register.")


@ttp_app.command("rotate-key")
def rotate_key(registry: Annotated[str, typer.Option(help="Het register.")]) -> None:
    """Maak een nieuwe sleutelversie voor een register (zie docs/pseudonymisation.md)."""
    info = _run(lambda: _ttp().rotate_key(registry))
    typer.echo(f"Nieuwe sleutel {registry} {info.version}, vingerafdruk {info.fingerprint}.")


@ttp_app.command("retire-key")
def retire_key(
    registry: Annotated[str, typer.Option(help="Het register.")],
    version: Annotated[int, typer.Option(help="Oude sleutelversie (getal) om te vernietigen.")],
) -> None:
    """Vernietig een oude sleutelversie nadat het register is hersleuteld."""
    _run(lambda: _ttp().retire_key(registry, version))
    typer.echo(f"Sleutel {registry} k{version} is vernietigd.")


def _print_fingerprints(ttp: TrustedThirdParty) -> None:
    for name, print_ in ttp.fingerprints().items():
        typer.echo(f"  {name}: {print_}")
    public = base64.b64encode(ttp.seal_public_key()).decode()
    typer.echo(f"  publieke verzegelsleutel (voor bronnen): {public}")


@ttp_app.command()
def fingerprints() -> None:
    """Toon de vingerafdrukken van alle TTP-sleutels (nooit de sleutels zelf)."""
    ttp = _ttp()
    typer.echo(f"TTP in {ttp.root}:")
    _run(lambda: _print_fingerprints(ttp))


def pseudonymise_command(
    file: Annotated[Path, typer.Argument(exists=True, dir_okay=False, help="Het exportbestand.")],
    dataset: Annotated[str, typer.Option(help="Naam van de dataset, bv. nhr-pmicd.")],
    registry: Annotated[str, typer.Option(help="Het ontvangende register, bv. nhr.")],
    output: Annotated[
        Path, typer.Option("--output", "-o", help="Waar het stap-1-bestand (ZIP) komt.")
    ],
    ttp_public_key: Annotated[
        Path | None,
        typer.Option(
            help="Publieke verzegelsleutel van de TTP (base64), voor herleidbare registers."
        ),
    ] = None,
    organisation: Annotated[
        str | None, typer.Option(help="AGB-code van de aanleverende organisatie.")
    ] = None,
) -> None:
    """Maak het stap-1-bestand dat de bron verstuurt: identificerende velden gepseudonimiseerd
    of gereduceerd, namen weggelaten.

    De export wordt eerst gecontroleerd; per rij gaat de uitkomst mee van de controles die
    identificerende velden lezen (alleen meldingscodes, nooit waarden). Het stap-1-bestand is
    een ZIP-archief."""
    from zorgbroker.intake.api import ReadError, SpecError, load_dataset
    from zorgbroker.pseudonymisation.source_side import make_stage1, ttp_public_key_for_source

    home = zorgbroker_home()
    try:
        destined = load_dataset(dataset).registry
        if destined != registry:  # before a project key is made for the wrong registry
            raise ValueError(
                f"Dataset {dataset} is bestemd voor register {destined}, niet voor {registry}."
            )
        public = (
            ttp_public_key_for_source(home, ttp_public_key) if is_reidentifiable(registry) else None
        )
        made = make_stage1(
            file,
            dataset,
            output,
            mode="production",
            home=home,
            organisation=organisation,
            ttp_public_key=public,
        )
        summary = made.summary
    except (TTPError, KeyCustodyError, ValueError) as error:
        typer.echo(f"Fout: {error}", err=True)
        raise typer.Exit(1) from None
    except (ReadError, SpecError) as error:
        typer.echo(f"Fout: {getattr(error, 'message', None) or error}", err=True)
        raise typer.Exit(1) from None
    _warn_zb1(home)
    typer.echo(
        f"Stap-1-bestand geschreven: {output} "
        f"(projectsleutel {registry}, vingerafdruk {made.source_key_fingerprint})"
    )
    if summary.refused:
        typer.echo(
            "  Het bestand is afgekeurd; het stap-1-bestand bevat alleen de meldingen daarover "
            "(zorgbroker check toont ze).",
            err=True,
        )
    for table, rows in summary.rows.items():
        typer.echo(f"  {table}: {rows} rijen")
        bad = summary.invalid_bsn_rows.get(table) or []
        if bad:
            shown = ", ".join(str(r) for r in bad[:20]) + (" ..." if len(bad) > 20 else "")
            typer.echo(
                f"  {table}: {len(bad)} rijen met een BSN dat niet aan de elfproef voldoet "
                f"(rij {shown}); die rijen gaan zonder pseudoniem mee.",
                err=True,
            )
