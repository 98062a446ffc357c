// A field's text, normalised text and typed value, as zorgbroker/intake/checks/plan.py makes
// them (text_exprs, normalise_exprs, typed_expr), one value at a time. Dates are day numbers
// (days since 1970-01-01), so that comparing and subtracting them is plain arithmetic.

export const ISO = "%Y-%m-%d";
export const DMY = "%d-%m-%Y";

import { WHITE_SPACE } from "./read_csv.js";

// Polars' strip_chars: Unicode white space at both ends.
const EDGE_SPACE = new RegExp(`^[${WHITE_SPACE}]+|[${WHITE_SPACE}]+$`, "g");

function visible(code) {
  return code > 32 && code < 0x85;
}

// The field's text: trimmed, empty as null.
export function cellText(cell) {
  if (cell === undefined || cell === null || cell === "") return null;
  // Most cells begin and end with a visible ASCII character: no regex for those.
  if (visible(cell.charCodeAt(0)) && visible(cell.charCodeAt(cell.length - 1))) return cell;
  const text = cell.replace(EDGE_SPACE, "");
  return text === "" ? null : text;
}

export function utf8Length(text) {
  let bytes = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c < 0x80) bytes += 1;
    else if (c < 0x800) bytes += 2;
    else if (c >= 0xd800 && c <= 0xdbff) {
      bytes += 4;
      i++;
    } else bytes += 3;
  }
  return bytes;
}

export function charLength(text) {
  let n = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c < 0xd800 || c > 0xdbff) n++;
  }
  return n;
}

const UNSIGNED = /^\+?[0-9]+$/;
const BSN_NOISE = /[\s.\-]/gu;
const EIGHT_DIGITS = /^\p{Nd}{8}$/u;
const NON_DIGIT = /\P{Nd}/u;
const NON_DIGITS = /\P{Nd}/gu;
const ALL_DIGITS = /^\p{Nd}+$/u;

// The normalised text of a field (`normalise`, `pad_digits`, `pad_min`), from its text.
export function normaliser(field) {
  const steps = [];
  if (field.normalise === "bsn") {
    steps.push((text) => {
      // Nine characters that parse as a number are left as they are (plan.normalise_exprs).
      if (utf8Length(text) === 9 && UNSIGNED.test(text)) return text;
      const digits = text.replace(BSN_NOISE, "");
      return EIGHT_DIGITS.test(digits) ? "0" + digits : digits;
    });
  } else if (field.normalise === "digits") {
    steps.push((text) => (NON_DIGIT.test(text) ? text.replace(NON_DIGITS, "") : text));
  }
  if (field.pad_digits !== null && field.pad_digits !== undefined) {
    const width = field.pad_digits;
    const shortest = field.pad_min ?? width - 1;
    steps.push((text) => {
      const length = utf8Length(text);
      if (length >= shortest && length < width && ALL_DIGITS.test(text)) {
        return "0".repeat(Math.max(0, width - charLength(text))) + text;
      }
      return text;
    });
  }
  if (field.normalise === "upper") steps.push((text) => text.toUpperCase());
  if (!steps.length) return (text) => text;
  // An empty value stays empty: every step maps null to null in Polars.
  return (text) => {
    if (text === null) return null;
    for (const step of steps) text = step(text);
    return text;
  };
}

// Days since 1970-01-01 of a proleptic Gregorian date, and back, by arithmetic alone (Howard
// Hinnant's algorithms): a Date object per value would cost more than the rest of a check.
export function dayNumber(year, month, day) {
  const y = month <= 2 ? year - 1 : year;
  const era = Math.floor(y / 400);
  const yoe = y - era * 400;
  const doy = Math.floor((153 * (month + (month > 2 ? -3 : 9)) + 2) / 5) + day - 1;
  const doe = yoe * 365 + Math.floor(yoe / 4) - Math.floor(yoe / 100) + doy;
  return era * 146097 + doe - 719468;
}

export function civil(days) {
  const z = days + 719468;
  const era = Math.floor(z / 146097);
  const doe = z - era * 146097;
  const yoe = Math.floor((doe - Math.floor(doe / 1460) + Math.floor(doe / 36524) - Math.floor(doe / 146096)) / 365);
  const doy = doe - (365 * yoe + Math.floor(yoe / 4) - Math.floor(yoe / 100));
  const mp = Math.floor((5 * doy + 2) / 153);
  const day = doy - Math.floor((153 * mp + 2) / 5) + 1;
  const month = mp < 10 ? mp + 3 : mp - 9;
  return { year: yoe + era * 400 + (month <= 2 ? 1 : 0), month, day };
}

function daysInMonth(year, month) {
  if (month === 2) return (year % 4 === 0 && year % 100 !== 0) || year % 400 === 0 ? 29 : 28;
  return [4, 6, 9, 11].includes(month) ? 30 : 31;
}

// chrono's %Y: up to four digits, or any number of them after a sign; %m and %d one or two.
const ISO_DATE = /^([+-][0-9]+|[0-9]{1,4})-([0-9]{1,2})-([0-9]{1,2})$/;
const DMY_DATE = /^([0-9]{1,2})-([0-9]{1,2})-([+-][0-9]+|[0-9]{1,4})$/;

export function parseDate(value, dateFormat) {
  if (value === null || value === undefined) return null;
  let year;
  let month;
  let day;
  if (dateFormat === DMY) {
    const found = DMY_DATE.exec(value);
    if (!found) return null;
    [day, month, year] = [Number(found[1]), Number(found[2]), Number(found[3])];
  } else {
    const found = ISO_DATE.exec(value);
    if (!found) return null;
    [year, month, day] = [Number(found[1]), Number(found[2]), Number(found[3])];
  }
  if (Math.abs(year) > 262143 || month < 1 || month > 12 || day < 1) return null;
  if (day > daysInMonth(year, month)) return null;
  return { year, month, day };
}

function digitsAt(text, at, count) {
  let n = 0;
  for (let i = at; i < at + count; i++) {
    const d = text.charCodeAt(i) - 48;
    if (d < 0 || d > 9) return -1;
    n = n * 10 + d;
  }
  return n;
}

function checkedDay(year, month, day) {
  if (year < 0 || month < 1 || month > 12 || day < 1 || day > daysInMonth(year, month)) return null;
  return dayNumber(year, month, day);
}

// The usual shapes, YYYY-MM-DD and DD-MM-YYYY, without a regex; undefined for anything else
// (parseDate decides those).
function isoFast(text) {
  if (text.length !== 10 || text.charCodeAt(4) !== 45 || text.charCodeAt(7) !== 45) return undefined;
  const year = digitsAt(text, 0, 4);
  const month = digitsAt(text, 5, 2);
  const day = digitsAt(text, 8, 2);
  if (year < 0 || month < 0 || day < 0) return undefined;
  return checkedDay(year, month, day);
}

function dmyFast(text) {
  if (text.length !== 10 || text.charCodeAt(2) !== 45 || text.charCodeAt(5) !== 45) return undefined;
  const day = digitsAt(text, 0, 2);
  const month = digitsAt(text, 3, 2);
  const year = digitsAt(text, 6, 4);
  if (year < 0 || month < 0 || day < 0) return undefined;
  return checkedDay(year, month, day);
}

const INTEGER = /^[+-]?[0-9]+$/;
const NUMBER = /^[+-]?([0-9]+(\.[0-9]*)?|\.[0-9]+)$/;

// The typed value of a normalised text: a number, a day number, the text itself, or null.
export function typer(field, dateFormat) {
  switch (field.type) {
    case "integer":
      return (text) => {
        if (text === null) return null;
        const length = utf8Length(text);
        if (!(length <= 18 || (length === 19 && text < "0"))) return null;
        return INTEGER.test(text) ? Number(text) : null;
      };
    case "number":
      return (text) => {
        if (text === null) return null;
        const number = text.replace(",", ".");
        return NUMBER.test(number) ? Number(number) : null;
      };
    case "date":
      return (text) => {
        if (text === null) return null;
        const fast = dateFormat === DMY ? dmyFast(text) : isoFast(text);
        if (fast !== undefined) return fast;
        const date = parseDate(text, dateFormat);
        return date === null ? null : dayNumber(date.year, date.month, date.day);
      };
    default:
      return (text) => text;
  }
}

const ISO_SHAPE = /^\d{4}-\d{2}-\d{2}$/;
const DMY_SHAPE = /^\d{2}-\d{2}-\d{4}$/;

// One date format per table: the one most date values in its first 10,000 rows are written in
// (plan.detect_date_format).
export function detectDateFormat(rows, columns) {
  let iso = 0;
  let dmy = 0;
  const sample = Math.min(rows.length, 10000);
  for (const column of columns) {
    for (let r = 0; r < sample; r++) {
      const cell = rows[r][column];
      if (!cell) continue;
      const text = cellText(cell) ?? "";
      if (ISO_SHAPE.test(text)) iso++;
      else if (DMY_SHAPE.test(text)) dmy++;
    }
  }
  return dmy > iso ? DMY : ISO;
}
