"""The source checks of a specification as plain JSON data, for a source that is not Python.

The portal's browser makes the stage-1 file itself (docs/pseudonymisation.md, section 8.7): it
runs the source checks (`source_checks`) in JavaScript, from this description, so a new dataset
needs no new JavaScript. Rule conditions travel as the rule language's syntax tree, one JSON
object per node (the shapes are listed in section 8.7), never as text to be parsed again.
"""

from __future__ import annotations

from typing import Any

from zorgbroker.intake.checks import plan as p
from zorgbroker.intake.checks import rule_language as rl
from zorgbroker.intake.source_checks import TableSourceChecks, source_checks
from zorgbroker.intake.spec.model import DatasetSpec, FieldSpec


def node_json(node: rl.Node) -> dict[str, Any]:
    """One node of the rule language's syntax tree, and its children, as JSON data."""
    match node:
        case rl.Literal(value=value):
            return {"node": "literal", "value": value}
        case rl.FieldRef(name=name):
            return {"node": "field", "name": name}
        case rl.Dotted(head=head, field=field):
            return {"node": "dotted", "head": head, "field": field}
        case rl.Call(function=function, args=args):
            return {"node": "call", "function": function, "args": [node_json(a) for a in args]}
        case rl.Compare(op=op, left=left, right=right):
            return {"node": "compare", "op": op, "left": node_json(left), "right": node_json(right)}
        case rl.In(value=value, items=items, negated=negated):
            return {
                "node": "in",
                "value": node_json(value),
                "items": [node_json(i) for i in items],
                "negated": negated,
            }
        case rl.IsEmpty(value=value, negated=negated):
            return {"node": "is_empty", "value": node_json(value), "negated": negated}
        case rl.Arith(op=op, left=left, right=right):
            return {"node": "arith", "op": op, "left": node_json(left), "right": node_json(right)}
        case rl.Logic(op=op, args=args):
            return {"node": "logic", "op": op, "args": [node_json(a) for a in args]}
    raise TypeError(f"unknown node {type(node).__name__}")


def _field_json(f: FieldSpec, spec: DatasetSpec, plan: p.TablePlan) -> dict[str, Any]:
    out: dict[str, Any] = {
        "name": f.name,
        "type": f.type,
        "normalise": f.normalise,
        "identifying": f.identifying,
        # The codes a field's own checks can give, in the engine's order (the first that fails
        # is the one message the field gets).
        "codes": p.field_codes(f),
        "required": f.required if isinstance(f.required, bool) else None,
        "required_when": node_json(plan.required_when[f.name])
        if f.name in plan.required_when
        else None,
    }
    checks = f.model_dump(
        include={
            "missing_code", "format_code", "length_code", "range_code", "codes_code",
            "unique_code", "pattern", "min_length", "max_length", "minimum", "maximum",
            "unique", "pad_digits", "pad_min",
        }
    )  # fmt: skip
    out.update(checks)
    out["code_values"] = sorted(p._codes(f, spec)) if f.codes is not None else None
    return out


def _dotted_json(
    spec: DatasetSpec, plan: p.TablePlan, mine: TableSourceChecks
) -> list[dict[str, Any]]:
    """Every `head.field` the source rules read from another table, and how to look it up: a
    one-row table's field, or a field reached through the reference field `head` (matched on
    the normalised text of both keys, as `strategies.whole_tables` joins them)."""
    out: dict[tuple[str, str], dict[str, Any]] = {}
    own = {f.name for f in plan.fields}
    for r in plan.rules:
        if r.index not in mine.rules:
            continue
        for node in rl.walk(r.condition):
            if not isinstance(node, rl.Dotted) or (node.head, node.field) in out:
                continue
            entry: dict[str, Any] = {"head": node.head, "field": node.field}
            if node.head in own:
                ref = plan.table.field(node.head).references
                assert ref is not None
                target = spec.table(ref.table)
                entry["table"] = ref.table
                entry["head_field"] = _field_json(plan.table.field(node.head), spec, plan)
                entry["key_field"] = _target_field_json(spec, target.name, ref.field)
            else:
                entry["table"] = node.head
                entry["head_field"] = entry["key_field"] = None
            entry["target_field"] = _target_field_json(spec, entry["table"], node.field)
            out[(node.head, node.field)] = entry
    return list(out.values())


def _exists_json(
    spec: DatasetSpec, plan: p.TablePlan, mine: TableSourceChecks
) -> list[dict[str, Any]]:
    """Every `exists(child, condition)` of the source rules: the child's field that references
    this table (`fk_field`), the field of this table it names (`key_field`), and the child's
    fields the condition reads, as `strategies.whole_tables` computes the flag."""
    out: list[dict[str, Any]] = []
    seen: set[tuple[str, rl.Node]] = set()
    for r in plan.rules:
        if r.index not in mine.rules:
            continue
        for node in rl.walk(r.condition):
            if not (isinstance(node, rl.Call) and node.function == "exists"):
                continue
            child = node.args[0]
            assert isinstance(child, rl.FieldRef)
            condition = node.args[1] if len(node.args) > 1 else rl.Literal(1)
            if (child.name, condition) in seen:
                continue
            seen.add((child.name, condition))
            fk = p.exists_reference(spec, plan.table, child.name)
            assert fk.references is not None
            out.append(
                {
                    "child": child.name,
                    "condition": node_json(condition),
                    "fk_field": _target_field_json(spec, child.name, fk.name),
                    "key_field": _field_json(plan.table.field(fk.references.field), spec, plan),
                    "child_fields": [
                        _target_field_json(spec, child.name, name)
                        for name in sorted(rl.field_names(condition))
                    ],
                }
            )
    return out


def _target_field_json(spec: DatasetSpec, table: str, field: str) -> dict[str, Any]:
    from zorgbroker.intake.spec.loader import check_plans

    target = check_plans(spec)[table]
    return _field_json(target.table.field(field), spec, target)


def _read_by(plan: p.TablePlan, mine: TableSourceChecks) -> set[str]:
    """The field names the source checks of a table read, through derived values too."""
    nodes = [r.condition for r in plan.rules if r.index in mine.rules]
    nodes += [plan.required_when[name] for name in mine.fields if name in plan.required_when]
    names: set[str] = set()
    while nodes:
        node = nodes.pop()
        for name in rl.field_names(node) - names:
            names.add(name)
            if name in plan.derive:
                nodes.append(plan.derive[name])
    return names


def _structure_json(plan: p.TablePlan, spec: DatasetSpec) -> dict[str, Any]:
    table = plan.table
    return {
        "needs_column": [f.name for f in table.fields if f.needs_column],
        "forbidden_columns": list(table.forbidden_columns),
        "forbidden_code": table.forbidden_code,
        "rows": table.rows,
        "rows_code": table.rows_code,
        "missing_table_code": spec.missing_table_code,
    }


def source_check_plan(spec: DatasetSpec) -> dict[str, dict[str, Any]]:
    """Per table: the fields whose own checks run at the source, the source rules (with their
    condition as a syntax tree), and the derived values they may read (as syntax trees)."""
    from zorgbroker.intake.spec.loader import check_plans

    checks = source_checks(spec)
    out: dict[str, dict[str, Any]] = {}
    for name, plan in check_plans(spec).items():
        mine = checks[name]
        out[name] = {
            "fields": [_field_json(f, spec, plan) for f in plan.fields if f.name in mine.fields],
            "rules": [
                {
                    "index": r.index,
                    "code": r.code,
                    "field": r.field,
                    "scope": r.scope,
                    "when": node_json(r.condition),
                }
                for r in plan.rules
                if r.index in mine.rules
            ],
            "derive": {d: node_json(node) for d, node in plan.derive.items()},
            "findings": sorted(f"{field}={code}" for field, code in mine.pairs),
            # The header check the source runs on the export (its messages go to the
            # manifest): which columns must be there, which may not, how many rows.
            "structure": _structure_json(plan, spec),
            # The other fields the source checks read (in a rule, a `required:` condition or a
            # derived value they use), with their own checks: a rule does not fire for a record
            # in which a field it reads has a message, and their values are normalised first.
            "dotted": _dotted_json(spec, plan, mine),
            "exists": _exists_json(spec, plan, mine),
            "read_fields": [
                _field_json(f, spec, plan)
                for f in plan.fields
                if f.name not in mine.fields and f.name in _read_by(plan, mine)
            ],
        }
    return out
