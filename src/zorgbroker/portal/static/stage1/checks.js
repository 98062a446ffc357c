// sourceFindings: the source checks of one table (docs/pseudonymisation.md 8.2), run in the
// browser on the tables read.js gives, with the same outcome as the Python check: per row the
// findings `field=code` of the source checks in report order (the column
// `zb_bronbevindingen` of the stage-1 file), and the date format the check decided.
//
// What runs comes from the plan (8.7): each table's `source_checks` lists the fields whose own
// checks run at the source (required, format, length, code list, range, unique), the rules
// whose condition reads an identifying field (as syntax trees), and the fields those rules read
// (a rule does not fire for a record in which one of them has a message of its own).

import { specColumnNames } from "./read_structure.js";
import {
  DMY,
  ISO,
  cellText,
  charLength,
  dayNumber,
  detectDateFormat,
  normaliser,
  parseDate,
  typer,
  utf8Length,
} from "./checks_values.js";
import { compile, fieldNames } from "./checks_rules.js";

export { parseDate, ISO, DMY };

// A text field without its own maximum may still not be longer than this (plan.py).
const DEFAULT_MAX_LENGTH = 4096;
const DIGITS_PATTERN = /^\^(?:\\d|\[0-9\])\{(\d+)(?:,(\d+))?\}\$$/;
const UNSIGNED = /^\+?[0-9]+$/;

// A specification pattern as the engine runs it: \d an ASCII digit, \D anything else.
function patternTest(pattern) {
  const digits = DIGITS_PATTERN.exec(pattern);
  if (digits) {
    const shortest = Number(digits[1]);
    const longest = Number(digits[2] ?? digits[1]);
    if (shortest >= 1 && shortest <= longest && longest <= 19) {
      return (text) => {
        const length = utf8Length(text);
        return length >= shortest && length <= longest && text >= "0" && UNSIGNED.test(text);
      };
    }
  }
  const source = pattern.replace(/\\(.)/g, (all, c) => (c === "d" ? "[0-9]" : c === "D" ? "[^0-9]" : all));
  let regex;
  try {
    regex = new RegExp(source, "u");
  } catch {
    regex = new RegExp(source);
  }
  return (text) => regex.test(text);
}

function todayDay(today) {
  if (today === undefined || today === null) {
    const now = new Date();
    return dayNumber(now.getFullYear(), now.getMonth() + 1, now.getDate());
  }
  const text = today instanceof Date ? today.toISOString().slice(0, 10) : today;
  const [y, m, d] = text.split("-").map(Number);
  return dayNumber(y, m, d);
}

function kindOf(field) {
  if (field.type === "date") return "date";
  return ["integer", "number"].includes(field.type) ? "number" : "string";
}

// The typed values of one field of another table read by read.js, in that table's own date
// format (as the engine types every table by itself).
function otherTableValues(plan, table, field) {
  const spec = plan.tables.find((t) => t.name === table.name);
  const mapping = specColumnNames(table.header, spec.fields.map((f) => f.name));
  const columnOf = new Map();
  table.header.forEach((column, index) => {
    if (mapping.has(column)) columnOf.set(mapping.get(column), index);
  });
  const dateColumns = spec.fields
    .filter((f) => f.type === "date" && columnOf.has(f.name))
    .map((f) => columnOf.get(f.name));
  const dateFormat = detectDateFormat(table.rows, dateColumns);
  const column = columnOf.get(field.name);
  const normalise = normaliser(field);
  const toType = typer(field, dateFormat);
  return {
    texts: table.rows.map((row) => (column === undefined ? null : normalise(cellText(row[column])))),
    typed: (texts) => texts.map(toType),
  };
}

// `head.field` of a source rule: a one-row table's field, or the field of the row another table
// holds under the key this record's reference field `head` names (the first such row; nothing
// when the table is absent, as strategies.whole_tables looks them up).
function lookup(plan, checks, tables, head, field, ownTexts) {
  const entry = (checks.dotted ?? []).find((d) => d.head === head && d.field === field);
  if (entry === undefined) return null;
  const kind = kindOf(entry.target_field);
  const table = tables.find((t) => t.name === entry.table);
  if (table === undefined) return { kind, at: () => null };
  const values = otherTableValues(plan, table, entry.target_field);
  const typed = values.typed(values.texts);
  if (entry.head_field === null) {
    const value = table.rows.length === 1 ? typed[0] : null;
    return { kind, at: () => value };
  }
  const keys = otherTableValues(plan, table, entry.key_field).texts;
  const byKey = new Map();
  keys.forEach((key, row) => {
    if (key !== null && !byKey.has(key)) byKey.set(key, typed[row]);
  });
  const heads = ownTexts(head);
  return { kind, at: (row) => (heads[row] === null ? null : byKey.get(heads[row]) ?? null) };
}

// exists(child, condition): whether a row of the child table that references this record (by
// the normalised text of both keys) meets the condition, evaluated in the child's own types;
// unknown for a record without a key, false when the child table is absent.
function existsFlag(plan, checks, tables, child, condition, ownTexts, env) {
  const wanted = JSON.stringify(condition);
  const entry = (checks.exists ?? []).find(
    (e) => e.child === child && JSON.stringify(e.condition) === wanted,
  );
  if (entry === undefined) return null;
  const table = tables.find((t) => t.name === child);
  if (table === undefined) return { kind: "bool", at: () => false };
  const values = new Map();
  for (const field of entry.child_fields) {
    const read = otherTableValues(plan, table, field);
    values.set(field.name, { kind: kindOf(field), typed: read.typed(read.texts) });
  }
  const childEnv = {
    rows: table.rows,
    today: env.today,
    organisation: env.organisation,
    value(name) {
      const found = values.get(name);
      if (found === undefined) throw new Error(`onbekend veld ${name} in exists(${child})`);
      return { kind: found.kind, at: (row) => found.typed[row] };
    },
    dotted: () => null,
    exists: () => null,
  };
  const test = compile(condition, childEnv);
  const fk = otherTableValues(plan, table, entry.fk_field).texts;
  const keys = new Set();
  fk.forEach((key, row) => {
    const met = test.at(row);
    // exists(child) without a condition tests the literal 1: every row counts.
    if (key !== null && (met === true || met === 1)) keys.add(key);
  });
  const own = ownTexts(entry.key_field.name);
  return { kind: "bool", at: (row) => (own[row] === null ? null : keys.has(own[row])) };
}

// Per row, the code of the one message a field gets (its first failing check), or null.
function fieldMessages(check, texts, typed, requiredWhen) {
  const n = texts.length;
  const out = new Array(n).fill(null);
  const matches = check.pattern ? patternTest(check.pattern) : null;
  const codes = check.code_values ? new Set(check.code_values) : null;
  const bounded = check.max_length !== null || check.min_length !== null;
  const longest = check.max_length ?? DEFAULT_MAX_LENGTH;
  const numeric = ["integer", "number", "date"].includes(check.type);
  let duplicated = null;
  if (check.unique) {
    const counts = new Map();
    for (const text of texts) if (text !== null) counts.set(text, (counts.get(text) ?? 0) + 1);
    duplicated = (text) => counts.get(text) > 1;
  }
  for (let row = 0; row < n; row++) {
    const text = texts[row];
    const present = text !== null;
    if (!present) {
      if (check.required === true) out[row] = check.missing_code;
      else if (requiredWhen !== null && requiredWhen.at(row) === true) out[row] = check.missing_code;
      continue;
    }
    if (numeric && typed[row] === null) out[row] = check.format_code;
    else if (matches !== null && !matches(text)) out[row] = check.format_code;
    else if (
      bounded
        ? charLength(text) > longest || (check.min_length !== null && charLength(text) < check.min_length)
        : utf8Length(text) > DEFAULT_MAX_LENGTH
    ) {
      out[row] = check.length_code;
    } else if (codes !== null && !codes.has(text)) out[row] = check.codes_code;
    else if (
      typed[row] !== null &&
      ((check.minimum !== null && typed[row] < check.minimum) ||
        (check.maximum !== null && typed[row] > check.maximum))
    ) {
      out[row] = check.range_code;
    } else if (duplicated !== null && duplicated(text)) out[row] = check.unique_code;
  }
  return out;
}

// The source findings of one table read by read.js (`table.name` is the specification's table
// name). `options`: {today: "YYYY-MM-DD" (the source's date), organisation: AGB or null,
// tables: every table read (for a rule that reads another table's field)}.
export function sourceFindings(plan, table, options = {}) {
  const spec = plan.tables.find((t) => t.name === table.name);
  if (spec === undefined) throw new Error(`tabel ${table.name} staat niet in het plan`);
  const checks = spec.source_checks;
  const rows = table.rows;
  const n = rows.length;
  // Column index of each field in the export.
  const mapping = specColumnNames(table.header, spec.fields.map((f) => f.name));
  const columnOf = new Map();
  table.header.forEach((column, index) => {
    if (mapping.has(column)) columnOf.set(mapping.get(column), index);
  });
  const dateColumns = spec.fields
    .filter((f) => f.type === "date" && columnOf.has(f.name))
    .map((f) => columnOf.get(f.name));
  const dateFormat = detectDateFormat(rows, dateColumns);

  // The fullest description of each field the checks may read: its own checks where the plan
  // has them, else its type and normalisation.
  const described = new Map(spec.fields.map((f) => [f.name, f]));
  for (const d of checks.dotted ?? []) if (d.head_field) described.set(d.head, d.head_field);
  for (const e of checks.exists ?? []) described.set(e.key_field.name, e.key_field);
  for (const f of [...(checks.read_fields ?? []), ...checks.fields]) described.set(f.name, f);
  const textCache = new Map();
  const typedCache = new Map();
  const texts = (name) => {
    if (!textCache.has(name)) {
      const column = columnOf.get(name);
      const normalise = normaliser(described.get(name));
      const out = new Array(n);
      for (let row = 0; row < n; row++) {
        out[row] = column === undefined ? null : normalise(cellText(rows[row][column]));
      }
      textCache.set(name, out);
    }
    return textCache.get(name);
  };
  const typedValues = (name) => {
    if (!typedCache.has(name)) {
      const toType = typer(described.get(name), dateFormat);
      typedCache.set(name, texts(name).map(toType));
    }
    return typedCache.get(name);
  };
  const derived = new Map();
  const env = {
    rows,
    today: todayDay(options.today),
    organisation: options.organisation ?? null,
    value(name) {
      if (described.has(name)) {
        const field = described.get(name);
        const values = typedValues(name);
        const kind = field.type === "date" ? "date" : ["integer", "number"].includes(field.type) ? "number" : "string";
        return { kind, at: (row) => values[row] };
      }
      if (checks.derive && name in checks.derive) {
        if (!derived.has(name)) derived.set(name, compile(checks.derive[name], env));
        return derived.get(name);
      }
      throw new Error(`onbekend veld ${name}`);
    },
    dotted: (head, field) => lookup(plan, checks, options.tables ?? [], head, field, texts),
    exists: (child, condition) =>
      existsFlag(plan, checks, options.tables ?? [], child, condition, texts, env),
  };

  const messages = new Map();
  for (const check of [...checks.fields, ...(checks.read_fields ?? [])]) {
    const requiredWhen = check.required_when ? compile(check.required_when, env) : null;
    messages.set(check.name, fieldMessages(check, texts(check.name), typedValues(check.name), requiredWhen));
  }
  const rules = [...checks.rules]
    .sort((a, b) => a.index - b.index)
    .map((rule) => {
      const reads = [...fieldNames(rule.when)].filter((name) => messages.has(name));
      return {
        token: `${rule.field ?? "-"}=${rule.code}`,
        record: rule.scope === "record",
        condition: compile(rule.when, env),
        blocked: reads.map((name) => messages.get(name)),
      };
    });
  // Report order: the fields in the specification's order, then the rules by their index.
  const order = new Map(spec.fields.map((f, i) => [f.name, i]));
  const own = [...checks.fields]
    .sort((a, b) => order.get(a.name) - order.get(b.name))
    .map((check) => ({ name: check.name, codes: messages.get(check.name) }));

  const findings = new Array(n);
  for (let row = 0; row < n; row++) {
    const tokens = [];
    for (const field of own) {
      const code = field.codes[row];
      if (code !== null) tokens.push(`${field.name}=${code}`);
    }
    for (const rule of rules) {
      if (!rule.record) continue;
      if (rule.blocked.some((codes) => codes[row] !== null)) continue;
      if (rule.condition.at(row) === true) tokens.push(rule.token);
    }
    findings[row] = tokens.join(" ");
  }
  return { findings, dateFormat };
}
