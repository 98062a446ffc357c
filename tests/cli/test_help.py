"""`zorgbroker --help` and the commands' help pages: Dutch, and quick to show."""

from __future__ import annotations

import subprocess
import sys

import pytest
from typer._click.core import Command

from tests.cli.conftest import zorgbroker
from zorgbroker.cli import COMMANDS, load_command

#: Click's English words, none of which may reach a user.
ENGLISH = ("Usage", "Options", "Arguments", "Commands", "Show this message", "[required]",
           "default:", "<bool>", "<str>", "<path>", "<int>", "Error")  # fmt: skip

HELP_IN_PROCESS = """
import sys
from zorgbroker.cli import main

sys.argv = ["zorgbroker", *sys.argv[1:], "--help"]
try:
    main()
except SystemExit as exit:
    assert exit.code == 0, exit.code
print(" ".join(sorted(sys.modules)))
"""


def _loaded_by_help(*args: str) -> set[str]:
    """The modules a fresh interpreter has loaded after showing `zorgbroker ARGS --help`."""
    done = subprocess.run(
        [sys.executable, "-c", HELP_IN_PROCESS, *args], capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr
    assert "Gebruik: zorgbroker" in done.stdout
    return set(done.stdout.splitlines()[-1].split())


def test_the_help_of_zorgbroker_loads_no_command_module_polars_or_sqlalchemy() -> None:
    command_modules = {entry.module for entry in COMMANDS.values()}
    heavy = {"polars", "sqlalchemy", "pydantic", "rich", "zorgbroker.settings"}
    assert _loaded_by_help() & (command_modules | heavy) == set()


def test_the_help_of_check_loads_no_engine_polars_or_sqlalchemy() -> None:
    heavy = {"polars", "sqlalchemy", "zorgbroker.intake.service", "zorgbroker.registry"}
    assert _loaded_by_help("check") & heavy == set()


def test_the_help_of_zorgbroker_lists_every_command_in_dutch() -> None:
    done = zorgbroker("--help")
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("Gebruik: zorgbroker [OPTIES] OPDRACHT [ARGUMENTEN]...")
    for name in COMMANDS:
        assert f"\n  {name} " in done.stdout
    assert "Toon deze hulp en stop." in done.stdout
    assert not [word for word in ENGLISH if word in done.stdout]


@pytest.mark.parametrize("name", list(COMMANDS))
def test_the_summary_in_the_table_is_the_commands_own(name: str) -> None:
    assert COMMANDS[name].summary == load_command(name).get_short_help_str(limit=1000)


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (
            ["check", "--help"],
            [
                "Gebruik: zorgbroker check [OPTIES] BESTAND",
                "Argumenten:",
                "BESTAND  Het bestand (CSV, XLSX of ZIP) om te controleren.  [verplicht]",
                "-d, --dataset TEKST",
                "-f, --format text|json|xlsx",
                "[standaard: text]",
            ],
        ),
        (["submit", "--help"], ["--wait / --no-wait", "[standaard: --wait]", "[verplicht]"]),
        (["worker", "--help"], ["-c, --concurrency GETAL", "[standaard: 1; minstens 1]"]),
        (["ttp", "--help"], ["Gebruik: zorgbroker ttp [OPTIES] OPDRACHT", "reid-approve"]),
        (
            ["ttp", "reid-approve", "--help"],
            [
                "Gebruik: zorgbroker ttp reid-approve [OPTIES] VERZOEK",
                "[omgevingsvariabele:",
            ],
        ),
    ],
)
def test_a_commands_help_is_dutch(args: list[str], expected: list[str]) -> None:
    done = zorgbroker(*args)
    assert done.returncode == 0, done.stderr
    assert [line for line in expected if line not in done.stdout] == []
    assert "Opties:" in done.stdout
    assert not [word for word in ENGLISH if word in done.stdout]


def _all_commands() -> list[tuple[str, Command]]:
    found = []

    def walk(path: str, command: Command) -> None:
        subcommands = getattr(command, "commands", {})
        if not subcommands:
            found.append((path, command))
        for name, sub in subcommands.items():
            walk(f"{path} {name}", sub)

    for name in COMMANDS:
        walk(name, load_command(name))
    return found


def test_an_option_name_means_one_thing_in_every_command() -> None:
    for path, command in _all_commands():
        names = [n for p in command.params for n in (*p.opts, *p.secondary_opts)]
        assert len(names) == len(set(names)), f"{path}: {sorted(names)}"
        for param in command.params:
            if "-o" in param.opts:
                assert "--output" in param.opts, f"{path}: -o is {param.opts}"
