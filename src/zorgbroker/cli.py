"""The `zorgbroker` command: one Typer app composed of the domains' commands."""

from __future__ import annotations

import typer

from zorgbroker.intake import cli as intake_cli

app = typer.Typer(
    name="zorgbroker",
    help="Zorgbroker: zorgdata veilig naar registraties, benchmarks en patiënten.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
app.command("datasets")(intake_cli.datasets_command)
app.command("check")(intake_cli.check_command)
app.command("demo")(intake_cli.demo_command)


def main() -> None:
    app()
