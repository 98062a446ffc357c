"""The `zorgbroker` command: one Typer app composed of the domains' commands."""

from __future__ import annotations

import typer

from zorgbroker.intake import cli as intake_cli
from zorgbroker.intake.generate.cli import generate_command
from zorgbroker.pseudonymisation import cli as ttp_cli
from zorgbroker.store import cli as store_cli

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
app.command("generate")(generate_command)
app.command("pseudonymise")(ttp_cli.pseudonymise_command)
app.add_typer(ttp_cli.ttp_app, name="ttp")
app.command("submit")(store_cli.submit_command)
app.command("uploads")(store_cli.uploads_command)
app.command("report")(store_cli.report_command)
app.command("devices")(store_cli.devices_command)


def main() -> None:
    app()
