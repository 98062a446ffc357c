"""The `zorgbroker` command: one Typer app composed of the domains' commands.

Commands are named here with the module that defines them and imported only when run, so
`zorgbroker check` does not pay for the registry's database layer or the TTP's cryptography.
"""

from __future__ import annotations

import gc
import importlib
import sys
from collections.abc import Callable
from functools import cache, wraps
from typing import Any

import typer

# Typer vendors its own Click; commands and contexts are of its types, not the `click` package's.
from typer._click.core import Command, Context
from typer.core import TyperGroup

#: command name -> (module, attribute): a command function, or a Typer app for a command group.
COMMANDS: dict[str, tuple[str, str]] = {
    "datasets": ("zorgbroker.intake.cli", "datasets_command"),
    "check": ("zorgbroker.intake.cli", "check_command"),
    "demo": ("zorgbroker.intake.cli", "demo_command"),
    "generate": ("zorgbroker.intake.generate.cli", "generate_command"),
    "pseudonymise": ("zorgbroker.pseudonymisation.cli", "pseudonymise_command"),
    "submit": ("zorgbroker.registry.cli", "submit_command"),
    "uploads": ("zorgbroker.registry.cli", "uploads_command"),
    "report": ("zorgbroker.registry.cli", "report_command"),
    "devices": ("zorgbroker.registry.cli", "devices_command"),
    "segments": ("zorgbroker.registry.cli", "segments_command"),
    "worker": ("zorgbroker.jobs.cli", "worker_command"),
    "mail": ("zorgbroker.mail.cli", "mail_command"),
    "ttp": ("zorgbroker.pseudonymisation.cli", "ttp_app"),
    "fhir": ("zorgbroker.fhir.cli", "fhir_app"),
}


@cache
def load_command(name: str) -> Command:
    module, attribute = COMMANDS[name]
    target = getattr(importlib.import_module(module), attribute)
    command: Command
    if isinstance(target, typer.Typer):
        command = typer.main.get_group(target)
    else:
        single = typer.Typer(add_completion=False, pretty_exceptions_enable=False)
        single.command(name)(target)
        command = typer.main.get_command(single)
    command.name = name
    _resume_collection_at_start(command)
    return command


#: Whether `main` turned the garbage collector off for the start-up (and has not turned it back on).
_collection_paused = False


def _resume_collection() -> None:
    global _collection_paused
    if _collection_paused:
        _collection_paused = False
        # What start-up made lives as long as the process: later collections can skip it.
        gc.freeze()
        gc.enable()


def _resume_collection_at_start(command: Command) -> None:
    """Turn garbage collection back on when the command (or any of its subcommands) starts."""
    callback = command.callback
    if callback is not None:
        command.callback = _after_resuming(callback)
    for sub in getattr(command, "commands", {}).values():
        _resume_collection_at_start(sub)


def _after_resuming(callback: Callable[..., Any]) -> Callable[..., Any]:
    @wraps(callback)
    def resumed(*args: Any, **kwargs: Any) -> Any:
        _resume_collection()
        return callback(*args, **kwargs)

    return resumed


class LazyGroup(TyperGroup):
    def list_commands(self, ctx: Context) -> list[str]:
        return [*COMMANDS, *(n for n in super().list_commands(ctx) if n not in COMMANDS)]

    def get_command(self, ctx: Context, cmd_name: str) -> Command | None:
        if cmd_name in COMMANDS:
            return load_command(cmd_name)
        return super().get_command(ctx, cmd_name)


app = typer.Typer(
    name="zorgbroker",
    cls=LazyGroup,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)


@app.callback()
def zorgbroker() -> None:
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
        from zorgbroker.intake.cli import EXIT_USAGE

        typer.echo(str(exc), err=True)
        raise SystemExit(EXIT_USAGE) from None
    finally:
        _resume_collection()
