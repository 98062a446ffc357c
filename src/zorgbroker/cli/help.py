"""Help pages and usage lines in Dutch, drawn from the commands' own parameters.

Typer's Click has English texts and no translations ("Usage:", "Options", "[required]", `<bool>`),
so every context of the `zorgbroker` command is a `DutchContext`, whose help and usage come from
here instead. Nothing here imports Rich: `zorgbroker --help` stays quick.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

from typer._click.core import Command, Context, Parameter

#: What an argument stands for, by its name in the code (code is English, the user reads Dutch).
ARGUMENT_NAMES = {
    "file": "BESTAND",
    "dataset": "DATASET",
    "upload_id": "NUMMER",
    "number": "NUMMER",
    "request_id": "VERZOEK",
    "organisation": "AGB-CODE",
    "name": "NAAM",
}

#: The kind of value an option takes, by its type.
TYPE_NAMES: dict[Any, str] = {int: "GETAL", float: "GETAL", str: "TEKST", Path: "PAD"}

HELP_OPTION_TEXT = "Toon deze hulp en stop."


@runtime_checkable
class Summarised(Protocol):
    """A group that can list its subcommands without loading them (see zorgbroker.cli)."""

    def command_summaries(self, ctx: Context) -> list[tuple[str, str]]: ...


class DutchContext(Context):
    """A Click context whose help page and usage line are Dutch."""

    def get_usage(self) -> str:
        return render_usage(self)

    def get_help(self) -> str:
        return render_help(self)


def use_dutch_context(command: Command) -> None:
    """Give the command, and every subcommand it holds, Dutch help and usage lines."""
    command.context_class = DutchContext
    for sub in getattr(command, "commands", {}).values():
        use_dutch_context(sub)


def _is_group(command: Command) -> bool:
    return hasattr(command, "list_commands")


def _is_option(param: Parameter) -> bool:
    return param.param_type_name == "option"


def value_name(param: Parameter) -> str:
    """The placeholder for a parameter's value: BESTAND, TEKST, text|json|xlsx."""
    if param.metavar:
        return param.metavar
    if not _is_option(param):
        name = param.name or "waarde"
        return ARGUMENT_NAMES.get(name, name.upper())
    descriptor = getattr(param, "type_descriptor", None)
    if descriptor is not None and descriptor.is_choice:
        return "|".join(_choice_text(c) for c in descriptor.choices or ())
    annotation = getattr(descriptor, "annotation", str)
    return TYPE_NAMES.get(annotation, "WAARDE")


def choices(param: Parameter) -> list[str]:
    descriptor = getattr(param, "type_descriptor", None)
    if descriptor is None or not descriptor.is_choice:
        return []
    return [_choice_text(c) for c in descriptor.choices or ()]


def _choice_text(choice: object) -> str:
    return str(choice.value) if isinstance(choice, enum.Enum) else str(choice)


def parameter_label(param: Parameter) -> str:
    """How a parameter is named in a message: `--format / -f` or `BESTAND`."""
    if _is_option(param):
        return " / ".join(param.opts)
    return value_name(param)


def _usage_arguments(ctx: Context) -> str:
    command = ctx.command
    pieces = ["[OPTIES]"]
    for param in command.get_params(ctx):
        if _is_option(param):
            continue
        name = value_name(param)
        if param.nargs == -1:
            name += "..."
        pieces.append(name if param.required else f"[{name}]")
    if _is_group(command):
        pieces.append("OPDRACHT [ARGUMENTEN]...")
    return " ".join(pieces)


def render_usage(ctx: Context) -> str:
    formatter = ctx.make_formatter()
    formatter.write_usage(ctx.command_path, _usage_arguments(ctx), prefix="Gebruik: ")
    return formatter.getvalue().rstrip("\n")


def _option_names(param: Parameter) -> str:
    shorts = [o for o in param.opts if not o.startswith("--")]
    longs = [o for o in param.opts if o.startswith("--")]
    names = ", ".join([*shorts, *longs])
    if param.secondary_opts:
        names += " / " + ", ".join(param.secondary_opts)
    if not getattr(param, "is_flag", False) and not getattr(param, "count", False):
        names += f" {value_name(param)}"
    return names


def _default_text(param: Parameter) -> str | None:
    if getattr(param, "show_default", True) is False or param.required:
        return None
    default = param.default
    if callable(default) or default is None:
        return None
    if getattr(param, "is_flag", False):
        if not param.secondary_opts:
            return None
        return param.opts[0] if default else param.secondary_opts[0]
    if isinstance(default, enum.Enum):
        return str(default.value)
    if isinstance(default, (list, tuple)):
        return ", ".join(map(str, default)) or None
    return str(default)


def _notes(param: Parameter) -> list[str]:
    notes = []
    envvar = getattr(param, "envvar", None)
    if isinstance(envvar, str) and getattr(param, "show_envvar", False):
        notes.append(f"omgevingsvariabele: {envvar}")
    default = _default_text(param)
    if default:
        notes.append(f"standaard: {default}")
    low, high = getattr(param, "min", None), getattr(param, "max", None)
    if low is not None:
        notes.append(f"minstens {low}")
    if high is not None:
        notes.append(f"hoogstens {high}")
    if param.required:
        notes.append("verplicht")
    return notes


def _help_of(param: Parameter) -> str:
    text = getattr(param, "help", None) or ""
    notes = _notes(param)
    if notes:
        text = f"{text}  [{'; '.join(notes)}]" if text else f"[{'; '.join(notes)}]"
    return text


def _subcommand_rows(ctx: Context) -> list[tuple[str, str]]:
    command = ctx.command
    if isinstance(command, Summarised):
        return command.command_summaries(ctx)
    rows = []
    for name in command.list_commands(ctx):  # type: ignore[attr-defined]
        sub = command.get_command(ctx, name)  # type: ignore[attr-defined]
        if sub is not None and not sub.hidden:
            rows.append((name, sub.get_short_help_str(limit=200)))
    return rows


def _section(formatter: Any, title: str, rows: Sequence[tuple[str, str]]) -> None:
    if rows:
        with formatter.section(title):
            formatter.write_dl(rows)


def render_help(ctx: Context) -> str:
    command = ctx.command
    formatter = ctx.make_formatter()
    formatter.write_usage(ctx.command_path, _usage_arguments(ctx), prefix="Gebruik: ")
    if command.help:
        import inspect

        formatter.write_paragraph()
        with formatter.indentation():
            formatter.write_text(inspect.cleandoc(command.help))
    params = command.get_params(ctx)
    arguments = [(value_name(p), _help_of(p)) for p in params if not _is_option(p)]
    options = [
        (_option_names(p), HELP_OPTION_TEXT if p.name == "help" else _help_of(p))
        for p in params
        if _is_option(p) and not getattr(p, "hidden", False)
    ]
    _section(formatter, "Argumenten", arguments)
    _section(formatter, "Opties", options)
    if _is_group(command):
        _section(formatter, "Opdrachten", _subcommand_rows(ctx))
    return formatter.getvalue().rstrip("\n")


def suggest(name: str, known: Iterable[str]) -> str | None:
    """The known name closest to a mistyped one, if any is close."""
    from difflib import get_close_matches

    matches = get_close_matches(name, list(known), n=1)
    return matches[0] if matches else None
