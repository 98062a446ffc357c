"""The `zorgbroker` command: one Typer app composed of the domains' commands.

Commands are named here with the module that defines them and imported only when run, so
`zorgbroker check` does not pay for the registry's database layer or the TTP's cryptography.
"""

from __future__ import annotations

import gc
import importlib
import sys
from collections.abc import Callable, Sequence
from functools import cache, partial, wraps
from typing import Annotated, Any, NamedTuple

import typer

# Typer vendors its own Click; commands and contexts are of its types, not the `click` package's.
from typer._click.core import Command, Context, Parameter
from typer._click.exceptions import NoArgsIsHelpError, UsageError
from typer.core import TyperGroup
from typer.exceptions import Abort

from zorgbroker.cli.help import DutchContext, use_dutch_context


class Entry(NamedTuple):
    """Where a command is defined, and the line `zorgbroker --help` shows for it.

    The summary is declared here, so that the help of `zorgbroker` loads no command module; a test
    keeps it equal to the first line of the command's own help.
    """

    module: str
    attribute: str  # a command function, or a Typer app for a command group
    summary: str
    #: Modules the command needs when it runs but not for its help: imported as it starts,
    #: while garbage collection is still paused for the start-up (see `main`).
    preload: tuple[str, ...] = ()


COMMANDS: dict[str, Entry] = {
    "datasets": Entry(
        "zorgbroker.intake.cli",
        "datasets_command",
        "Toon de datasetspecificaties die deze installatie kent.",
    ),
    "check": Entry(
        "zorgbroker.intake.cli",
        "check_command",
        "Controleer een bestand als testaanlevering: niets wordt opgeslagen of verstuurd.",
        preload=("zorgbroker.intake.service",),
    ),
    "demo": Entry(
        "zorgbroker.platform.cli",
        "demo_command",
        "Start het platform op deze machine met demo-organisaties en -gebruikers; stoppen met "
        "Ctrl-C.",
    ),
    "serve": Entry(
        "zorgbroker.platform.cli",
        "serve_command",
        "Start het portaal in productie, achter een proxy die HTTPS afhandelt; stoppen met Ctrl-C.",
    ),
    "generate": Entry(
        "zorgbroker.intake.generate.cli",
        "generate_command",
        "Maak een synthetisch bestand voor een dataset, foutloos of met ingebouwde fouten.",
    ),
    "pseudonymise": Entry(
        "zorgbroker.pseudonymisation.cli",
        "pseudonymise_command",
        "Maak het stap-1-bestand dat de bron verstuurt: identificerende velden "
        "gepseudonimiseerd of gereduceerd, namen weggelaten.",
    ),
    "init": Entry(
        "zorgbroker.registry.cli",
        "init_command",
        "Maak de registratiedatabase aan op het ingestelde adres, of breng een bestaande bij.",
    ),
    "submit": Entry(
        "zorgbroker.uploads.cli",
        "submit_command",
        "Lever een bestand aan: pseudonimisering, controle, en in productie vergelijking en "
        "opslag.",
    ),
    "uploads": Entry(
        "zorgbroker.uploads.cli",
        "uploads_command",
        "Toon eerdere aanleveringen, nieuwste eerst.",
    ),
    "report": Entry(
        "zorgbroker.uploads.cli",
        "report_command",
        "Toon het rapport van een eerdere aanlevering opnieuw.",
    ),
    "devices": Entry(
        "zorgbroker.registry.cli",
        "devices_command",
        "Welke pseudoniemen en centra dragen dit device nu? (Geëxplanteerde niet.) Wordt gelogd.",
    ),
    "worker": Entry(
        "zorgbroker.jobs.cli",
        "worker_command",
        "Verwerk aanleveringen uit de wachtrij op PostgreSQL; stoppen met Ctrl-C.",
    ),
    "mail": Entry(
        "zorgbroker.mail.cli",
        "mail_command",
        "Toon de lokale postbus met meldingen over aanleveringen, of verstuur wachtende mail.",
    ),
    "ttp": Entry(
        "zorgbroker.pseudonymisation.cli",
        "ttp_app",
        "De vertrouwde derde partij (TTP): sleutels, pseudonimisering, heridentificatie, audit.",
    ),
    "fhir": Entry(
        "zorgbroker.fhir.cli",
        "fhir_app",
        "FHIR-server voor patiënttoegang (MedMij): laden, tokens, serveren, TestScripts.",
    ),
}


@cache
def load_command(name: str) -> Command:
    module, attribute, _, preload = COMMANDS[name]
    target = getattr(importlib.import_module(module), attribute)
    command: Command
    if isinstance(target, typer.Typer):
        command = typer.main.get_group(target)
    else:
        single = typer.Typer(add_completion=False, pretty_exceptions_enable=False)
        single.command(name)(target)
        command = typer.main.get_command(single)
    command.name = name
    _resume_collection_at_start(command, preload)
    use_dutch_context(command)
    _add_verbose_option(command)
    return command


def _show_log_lines(verbose: bool) -> None:
    if verbose:
        from zorgbroker.logging import show_log_lines

        show_log_lines()


#: `--verbose`, which every command takes: declared once, as a parameter of this function.
VerboseOption = Annotated[
    bool,
    typer.Option(
        "--verbose",
        help="Toon de logregels (JSON, vanaf niveau INFO) op stderr, in plaats van ze in het "
        "logbestand te schrijven.",
        callback=_show_log_lines,
        is_eager=True,
        expose_value=False,
    ),
]


def _verbose_template(verbose: VerboseOption = False) -> None:
    """Only here for its parameter."""


@cache
def _verbose_option() -> Parameter:
    template = typer.Typer(add_completion=False)
    template.command()(_verbose_template)
    return typer.main.get_command(template).params[0]


def _add_verbose_option(command: Command) -> None:
    """Give the command, and each subcommand, the `--verbose` option (before `--help`)."""
    subcommands = getattr(command, "commands", {})
    if not subcommands:
        command.params.append(_verbose_option())
    for sub in subcommands.values():
        _add_verbose_option(sub)


#: Whether `main` turned the garbage collector off for the start-up (and has not turned it back on).
_collection_paused = False


def _resume_collection() -> None:
    global _collection_paused
    if _collection_paused:
        _collection_paused = False
        # What start-up made lives as long as the process: later collections can skip it.
        gc.freeze()
        gc.enable()


def _resume_collection_at_start(command: Command, preload: tuple[str, ...] = ()) -> None:
    """Turn garbage collection back on when the command (or any of its subcommands) starts,
    after importing the modules it preloads."""
    callback = command.callback
    if callback is not None:
        command.callback = _after_resuming(callback, preload)
    for sub in getattr(command, "commands", {}).values():
        _resume_collection_at_start(sub, preload)


def _after_resuming(callback: Callable[..., Any], preload: tuple[str, ...]) -> Callable[..., Any]:
    @wraps(callback)
    def resumed(*args: Any, **kwargs: Any) -> Any:
        for module in preload:
            importlib.import_module(module)
        _resume_collection()
        return callback(*args, **kwargs)

    return resumed


class LazyGroup(TyperGroup):
    """The `zorgbroker` group: commands loaded when run, help and usage errors in Dutch."""

    context_class = DutchContext

    def list_commands(self, ctx: Context) -> list[str]:
        return [*COMMANDS, *(n for n in super().list_commands(ctx) if n not in COMMANDS)]

    def get_command(self, ctx: Context, cmd_name: str) -> Command | None:
        if cmd_name in COMMANDS:
            return load_command(cmd_name)
        return super().get_command(ctx, cmd_name)

    def command_summaries(self, ctx: Context) -> list[tuple[str, str]]:
        return [(name, entry.summary) for name, entry in COMMANDS.items()]

    def main(
        self,
        args: Sequence[str] | None = None,
        prog_name: str | None = None,
        complete_var: str | None = None,
        standalone_mode: bool = True,
        windows_expand_args: bool = True,
        **extra: Any,
    ) -> Any:
        """Run as Click would, but with usage errors in Dutch (Click's are English)."""
        run = partial(
            super().main,
            args,
            prog_name,
            complete_var,
            standalone_mode=False,
            windows_expand_args=windows_expand_args,
            **extra,
        )
        if not standalone_mode:
            return run()
        try:
            outcome = run()
        except NoArgsIsHelpError as exc:
            typer.echo(exc.ctx.get_help(), err=True)
            sys.exit(exc.exit_code)
        except UsageError as exc:
            show_usage_error(exc)
            sys.exit(exc.exit_code)
        except Abort:
            typer.echo("Afgebroken.", err=True)
            sys.exit(1)
        sys.exit(outcome if isinstance(outcome, int) else 0)


def show_usage_error(error: UsageError) -> None:
    from zorgbroker.cli.common import print_error
    from zorgbroker.cli.usage_errors import dutch_message, usage_hint

    hint = usage_hint(error.ctx)
    if hint:
        typer.echo(hint, err=True)
    print_error(dutch_message(error))


app = typer.Typer(
    name="zorgbroker",
    cls=LazyGroup,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)


@app.callback()
def zorgbroker(verbose: VerboseOption = False) -> None:
    """Zorgbroker: zorgdata veilig naar registraties, benchmarks en patiënten."""


def main() -> None:
    global _collection_paused
    # Start-up (Typer, Pydantic, the command's module) makes a great many objects that live as
    # long as the process, and the cyclic garbage collector would go through them time and again
    # while they are made, finding nothing to collect: about 10 % of a small `zorgbroker check`.
    if gc.isenabled():
        gc.disable()
        _collection_paused = True
    try:
        app()
    except ValueError as exc:
        # Settings are read from the environment inside a command; a wrong one is the user's
        # to fix, so it is a usage error, not a traceback. (Only a command that read them can
        # have raised InvalidSettings: this looks for it without importing pydantic-settings.)
        settings = sys.modules.get("zorgbroker.settings")
        if settings is None or not isinstance(exc, settings.InvalidSettings):
            raise
        from zorgbroker.cli.common import EXIT_USAGE

        typer.echo(str(exc), err=True)
        raise SystemExit(EXIT_USAGE) from None
    finally:
        _resume_collection()
