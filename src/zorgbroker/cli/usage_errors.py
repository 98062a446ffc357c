"""Click's usage errors in Dutch: a missing option, an unknown command, a value of the wrong kind.

Click (as vendored by Typer) words them in English, and Typer's conversions add Pydantic's
messages. The Dutch sentence is made from what the exception carries (its parameter, the
Pydantic error's kind and input) rather than by translating the English sentence, which is kept
only to find a value Click does not carry otherwise.
"""

from __future__ import annotations

import re

from typer._click.core import Context
from typer._click.exceptions import (
    BadOptionUsage,
    BadParameter,
    MissingParameter,
    NoSuchOption,
    UsageError,
)

from zorgbroker.cli.help import choices, parameter_label, suggest

_NO_SUCH_COMMAND = re.compile(r"No such command '(?P<name>.*)'\.( Did you mean .*)?")
_EXTRA_ARGUMENTS = re.compile(r"Got unexpected extra argument\(s\) \((?P<args>.*)\)")
_NEEDS_VALUE = re.compile(r"Option '(?P<name>[^']*)' requires")
_TAKES_NO_VALUE = re.compile(r"Option '(?P<name>[^']*)' does not take a value")
_PATH_PROBLEM = re.compile(
    r"^(File|Directory|Path) (?P<path>'.*') (?P<problem>does not exist|is a file|is a directory|"
    r"is not readable|is not writable)\.$",
    re.IGNORECASE,
)
_PATH_PROBLEMS = {
    "does not exist": "bestaat niet",
    "is a file": "is een bestand, geen map",
    "is a directory": "is een map, geen bestand",
    "is not readable": "is niet leesbaar",
    "is not writable": "is niet schrijfbaar",
}


def dutch_message(error: UsageError) -> str:
    """The Dutch sentence for a usage error (after 'Fout:')."""
    if isinstance(error, MissingParameter):
        return _missing(error)
    if isinstance(error, BadParameter):
        return _bad_value(error)
    if isinstance(error, NoSuchOption):
        text = f"onbekende optie {error.option_name}"
        if error.possibilities:
            text += f"; bedoelt u {' of '.join(sorted(error.possibilities))}?"
        return text
    message = error.message
    if isinstance(error, BadOptionUsage):
        if _NEEDS_VALUE.match(message):
            return f"optie {error.option_name} heeft een waarde nodig"
        if _TAKES_NO_VALUE.match(message):
            return f"optie {error.option_name} heeft geen waarde"
    if found := _NO_SUCH_COMMAND.fullmatch(message):
        name = found["name"]
        text = f"onbekende opdracht '{name}'"
        close = suggest(name, _subcommands(error.ctx))
        return text + (f"; bedoelt u '{close}'?" if close else "")
    if found := _EXTRA_ARGUMENTS.fullmatch(message):
        return f"onverwacht argument: {found['args']}"
    if message == "Missing command.":
        return "geef een opdracht"
    return message


def _subcommands(ctx: Context | None) -> list[str]:
    list_commands = getattr(ctx.command, "list_commands", None) if ctx is not None else None
    return list_commands(ctx) if list_commands is not None else []


def _missing(error: MissingParameter) -> str:
    param = error.param
    if param is None:
        return "er ontbreekt een waarde"
    kind = "optie" if param.param_type_name == "option" else "argument"
    text = f"{kind} {parameter_label(param)} ontbreekt"
    options = choices(param)
    if options:
        text += f" (kies uit {', '.join(options)})"
    return text


def _bad_value(error: BadParameter) -> str:
    param = error.param
    label = parameter_label(param) if param is not None else None
    detail = _pydantic_detail(error) or _path_detail(error.message) or error.message
    return f"ongeldige waarde voor {label}: {detail}" if label else f"ongeldige waarde: {detail}"


def _pydantic_detail(error: BadParameter) -> str | None:
    """The Dutch for a conversion Typer left to Pydantic, from the Pydantic error's kind."""
    cause = error.__cause__
    errors = getattr(cause, "errors", None)
    if not callable(errors):
        return None
    first = errors()[0]
    kind, given, limits = first.get("type", ""), first.get("input"), first.get("ctx") or {}
    shown = f"'{given}'"
    if kind.startswith("int_"):
        return f"{shown} is geen geheel getal"
    if kind.startswith("float_") or kind.startswith("decimal_"):
        return f"{shown} is geen getal (gebruik een punt: 0.5)"
    if kind.startswith("bool_"):
        return f"{shown} is geen ja of nee"
    if kind in ("greater_than_equal", "greater_than", "less_than_equal", "less_than"):
        word = {
            "greater_than_equal": "minstens",
            "greater_than": "groter dan",
            "less_than_equal": "hoogstens",
            "less_than": "kleiner dan",
        }[kind]
        bound = next(iter(limits.values()), "")
        return f"{shown} moet {word} {bound} zijn"
    param = error.param
    options = choices(param) if param is not None else []
    if options:
        return f"{shown} is geen van {', '.join(options)}"
    if kind.startswith("date"):
        return f"{shown} is geen datum JJJJ-MM-DD"
    return f"{shown} is niet geldig"


def _path_detail(message: str) -> str | None:
    found = _PATH_PROBLEM.match(message)
    if found is None:
        return None
    return f"{found['path']} {_PATH_PROBLEMS[found['problem'].lower()]}"


def usage_hint(ctx: Context | None) -> str | None:
    """The usage line and where to find help, as Click shows them above a usage error."""
    if ctx is None:
        return None
    lines = [ctx.get_usage()]
    if ctx.command.get_help_option(ctx) is not None:
        lines.append(f"Hulp: {ctx.command_path} {ctx.help_option_names[0]}")
    return "\n".join(lines)
