// The rule language's syntax tree (docs/pseudonymisation.md 8.7) compiled once into JavaScript
// closures over a record, with the semantics of intake/checks/rule_language.py: an empty value
// is a value of its own for =, != and in; ordering, arithmetic and functions of an empty value
// are unknown (null); and/or/not follow Kleene's three-valued logic, as Polars does.
//
// A compiled expression is {kind, at(row)}: kind is "date" (a day number), "number", "string",
// "bool" or null (unknown); `at` returns the value or null.

import { civil, dayNumber } from "./checks_values.js";

const eqMissing = (a, b) => (a === null || b === null ? a === b : a === b);

function compareWith(op) {
  switch (op) {
    case "=":
      return eqMissing;
    case "!=":
      return (a, b) => !eqMissing(a, b);
    case "<":
      return (a, b) => (a === null || b === null ? null : a < b);
    case "<=":
      return (a, b) => (a === null || b === null ? null : a <= b);
    case ">":
      return (a, b) => (a === null || b === null ? null : a > b);
    case ">=":
      return (a, b) => (a === null || b === null ? null : a >= b);
  }
  throw new Error(`onbekende vergelijking ${op}`);
}

function arithWith(op) {
  switch (op) {
    case "+":
      return (a, b) => (a === null || b === null ? null : a + b);
    case "-":
      return (a, b) => (a === null || b === null ? null : a - b);
    case "*":
      return (a, b) => (a === null || b === null ? null : a * b);
    case "/":
      // Division by zero is unknown, not infinite (rule_language._arith).
      return (a, b) => (a === null || b === null || b === 0 ? null : a / b);
  }
  throw new Error(`onbekende bewerking ${op}`);
}

const ELF_WEIGHTS = [9, 8, 7, 6, 5, 4, 3, 2, -1];
const NINE_DIGITS = /^[0-9]{9}$/;
const FOURTEEN_DIGITS = /^[0-9]{14}$/;

// The BSN eleven-test on nine ASCII digits; false for other text, unknown for an empty value.
export function elfproef(text) {
  if (text === null) return null;
  if (typeof text !== "string" || !NINE_DIGITS.test(text)) return false;
  let sum = 0;
  for (let i = 0; i < 9; i++) sum += (text.charCodeAt(i) - 48) * ELF_WEIGHTS[i];
  return sum % 11 === 0 && text !== "000000000";
}

export function gs1Check(text) {
  if (text === null) return null;
  if (typeof text !== "string" || !FOURTEEN_DIGITS.test(text)) return false;
  let sum = 0;
  for (let i = 0; i < 14; i++) sum += (text.charCodeAt(i) - 48) * (i % 2 === 0 ? 3 : 1);
  return sum % 10 === 0;
}

function ymd(days) {
  const { year, month, day } = civil(days);
  return year * 10000 + month * 100 + day;
}

// Completed years between two dates (someone born on 29 February has a birthday on 1 March).
export function age(birth, at) {
  if (birth === null || at === null) return null;
  return Math.floor((ymd(at) - ymd(birth)) / 10000);
}

// Polars' offset_by("<n>mo"): the same day n months on, or the month's last day if shorter.
function addMonths(days, months) {
  const { year, month, day } = civil(days);
  const total = year * 12 + (month - 1) + months;
  const y = Math.floor(total / 12);
  const mo = total - y * 12 + 1;
  const leap = (y % 4 === 0 && y % 100 !== 0) || y % 400 === 0;
  const last = mo === 2 ? (leap ? 29 : 28) : [4, 6, 9, 11].includes(mo) ? 30 : 31;
  return dayNumber(y, mo, Math.min(day, last));
}

function dateText(days) {
  const { year, month, day } = civil(days);
  const two = (n) => String(n).padStart(2, "0");
  return `${String(year).padStart(4, "0")}-${two(month)}-${two(day)}`;
}

function wholeNumber(node) {
  if (node.node === "literal" && Number.isInteger(node.value)) return node.value;
  if (node.node === "arith" && node.op === "-" && node.left.node === "literal" && node.left.value === 0
    && node.right.node === "literal" && Number.isInteger(node.right.value)) return -node.right.value;
  return null;
}

// `env`: {value(name) -> {kind, at}, today (day number), organisation (string or null),
// dotted(head, field) -> {kind, at} | null, exists(child, condition) -> {kind, at} | null,
// rows (the table's rows, for the functions over a whole column)}.
export function compile(node, env) {
  switch (node.node) {
    case "literal": {
      const value = node.value;
      return { kind: typeof value === "number" ? "number" : "string", at: () => value };
    }
    case "field":
      return env.value(node.name);
    case "dotted": {
      const found = env.dotted(node.head, node.field);
      if (found === null) throw new Error(`onbekende verwijzing ${node.head}.${node.field}`);
      return found;
    }
    case "compare": {
      const left = compile(node.left, env);
      const right = compile(node.right, env);
      const test = compareWith(node.op);
      return { kind: "bool", at: (row) => test(left.at(row), right.at(row)) };
    }
    case "in": {
      const value = compile(node.value, env);
      const items = node.items.map((item) => compile(item, env));
      const negated = node.negated;
      return {
        kind: "bool",
        at: (row) => {
          const v = value.at(row);
          let found = false;
          for (const item of items) {
            if (eqMissing(v, item.at(row))) {
              found = true;
              break;
            }
          }
          return negated ? !found : found;
        },
      };
    }
    case "is_empty": {
      const value = compile(node.value, env);
      const negated = node.negated;
      return { kind: "bool", at: (row) => (value.at(row) === null) !== negated };
    }
    case "arith": {
      const left = compile(node.left, env);
      const right = compile(node.right, env);
      const apply = arithWith(node.op);
      const kind = left.kind === "string" && right.kind === "string" ? "string" : "number";
      return { kind, at: (row) => apply(left.at(row), right.at(row)) };
    }
    case "logic": {
      const args = node.args.map((arg) => compile(arg, env));
      if (node.op === "not") {
        const [arg] = args;
        return { kind: "bool", at: (row) => { const v = arg.at(row); return v === null ? null : !v; } };
      }
      if (node.op === "and") {
        return {
          kind: "bool",
          at: (row) => {
            let unknown = false;
            for (const arg of args) {
              const v = arg.at(row);
              if (v === false) return false;
              if (v === null) unknown = true;
            }
            return unknown ? null : true;
          },
        };
      }
      return {
        kind: "bool",
        at: (row) => {
          let unknown = false;
          for (const arg of args) {
            const v = arg.at(row);
            if (v === true) return true;
            if (v === null) unknown = true;
          }
          return unknown ? null : false;
        },
      };
    }
    case "call":
      return compileCall(node, env);
  }
  throw new Error(`onbekend knooppunt ${node.node}`);
}

function compileCall(node, env) {
  const fn = node.function;
  if (fn === "today") return { kind: "date", at: () => env.today };
  if (fn === "organisation") return { kind: "string", at: () => env.organisation ?? null };
  if (fn === "date") {
    const [y, mo, d] = node.args[0].value.split("-").map(Number);
    const day = dayNumber(y, mo, d);
    return { kind: "date", at: () => day };
  }
  if (fn === "exists") {
    const condition = node.args[1] ?? { node: "literal", value: 1 };
    const found = env.exists(node.args[0].name, condition);
    if (found === null) throw new Error(`onbekende tabel in exists(${node.args[0].name})`);
    return found;
  }
  const args = node.args.map((arg) => compile(arg, env));
  const [a, b] = args;
  const unary = (kind, f) => ({ kind, at: (row) => { const v = a.at(row); return v === null ? null : f(v); } });
  switch (fn) {
    case "year":
      return unary("number", (v) => civil(v).year);
    case "month":
      return unary("number", (v) => civil(v).month);
    case "quarter":
      return unary("number", (v) => Math.floor((civil(v).month + 2) / 3));
    case "length":
      return unary("number", (v) => {
        const text = a.kind === "date" ? dateText(v) : String(v);
        return Array.from(text).length;
      });
    case "elfproef":
      return { kind: "bool", at: (row) => elfproef(a.at(row)) };
    case "gs1_check":
      return { kind: "bool", at: (row) => gs1Check(a.at(row)) };
    case "age":
      return { kind: "number", at: (row) => age(a.at(row), b.at(row)) };
    case "days_between":
      return { kind: "number", at: (row) => { const x = a.at(row); const y = b.at(row); return x === null || y === null ? null : y - x; } };
    case "add_months": {
      const months = wholeNumber(node.args[1]);
      return unary("date", (v) => addMonths(v, months));
    }
    case "coalesce":
      return {
        kind: args[0].kind,
        at: (row) => {
          for (const arg of args) {
            const v = arg.at(row);
            if (v !== null) return v;
          }
          return null;
        },
      };
    case "if": {
      const [cond, then, otherwise] = args;
      return { kind: then.kind, at: (row) => (cond.at(row) === true ? then.at(row) : otherwise.at(row)) };
    }
    case "n_unique": {
      const values = env.rows.map((_, row) => a.at(row));
      const count = new Set(values).size;
      return { kind: "number", at: () => count };
    }
    case "is_duplicated": {
      const counts = new Map();
      const values = env.rows.map((_, row) => a.at(row));
      for (const v of values) counts.set(v, (counts.get(v) ?? 0) + 1);
      return { kind: "bool", at: (row) => counts.get(values[row]) > 1 };
    }
  }
  throw new Error(`onbekende functie ${fn}()`);
}

// Field names (of the current table) an expression reads, as rule_language.field_names.
export function fieldNames(node, out = new Set()) {
  switch (node.node) {
    case "field":
      out.add(node.name);
      break;
    case "call":
      if (node.function !== "exists") node.args.forEach((arg) => fieldNames(arg, out));
      break;
    case "compare":
    case "arith":
      fieldNames(node.left, out);
      fieldNames(node.right, out);
      break;
    case "in":
      fieldNames(node.value, out);
      node.items.forEach((item) => fieldNames(item, out));
      break;
    case "is_empty":
      fieldNames(node.value, out);
      break;
    case "logic":
      node.args.forEach((arg) => fieldNames(arg, out));
      break;
  }
  return out;
}
