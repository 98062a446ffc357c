// The reductions at the source, as pseudonymisation/reductions.py computes them: a birth date
// becomes its year (after the age at the event has been computed from the full dates), a
// postcode its four digits. Dates are read as reductions.parse_date reads them (YYYY-MM-DD,
// else DD-MM-YYYY, whatever the export's date format), so the two sides agree on every value;
// the shared test vectors hold the edge cases (one-digit months, signs, impossible days).

import { WS } from "./crypto.js";

const EDGES = new RegExp(`^[${WS}]+|[${WS}]+$`, "g");
const ALL_SPACE = new RegExp(`[${WS}]`, "g");
// Polars' %Y takes an optional sign and up to four digits, %m and %d one or two digits.
const YMD = /^([+-]?[0-9]{1,4})-([0-9]{1,2})-([0-9]{1,2})$/;
const DMY = /^([0-9]{1,2})-([0-9]{1,2})-([+-]?[0-9]{1,4})$/;
const POSTCODE = /^([1-9][0-9]{3})(?:[A-Z]{2})?$/;

function isLeap(year) {
  return (year % 4 === 0 && year % 100 !== 0) || year % 400 === 0;
}

function valid(year, month, day) {
  if (month < 1 || month > 12 || day < 1) return null;
  const days = [31, isLeap(year) ? 29 : 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];
  return day <= days[month - 1] ? { year, month, day } : null;
}

/** {year, month, day} of a text date, or null: YYYY-MM-DD first, then DD-MM-YYYY. */
export function parseDate(value) {
  if (value === null || value === undefined) return null;
  const text = value.replace(EDGES, "");
  let m = YMD.exec(text);
  const ymd = m ? valid(parseInt(m[1], 10), parseInt(m[2], 10), parseInt(m[3], 10)) : null;
  if (ymd) return ymd;
  m = DMY.exec(text);
  return m ? valid(parseInt(m[3], 10), parseInt(m[2], 10), parseInt(m[1], 10)) : null;
}

/** Whole years from birth to event; a birthday on the event's day counts as reached. */
export function ageAt(birth, event) {
  if (!birth || !event) return null;
  const before =
    event.month < birth.month || (event.month === birth.month && event.day < birth.day);
  return event.year - birth.year - (before ? 1 : 0);
}

/** The birth year as text, or null. */
export function birthYear(value) {
  const date = parseDate(value);
  return date ? String(date.year) : null;
}

/** The four digits of a Dutch postcode ("1234 AB", "1234ab", "1234"), or null. */
export function postcode4(value) {
  if (value === null || value === undefined) return null;
  const m = POSTCODE.exec(value.replace(ALL_SPACE, "").toUpperCase());
  return m ? m[1] : null;
}

/** The age at the event as text (null unless both dates parse), for an `age(...)` column. */
export function ageText(birthValue, eventValue) {
  const age = ageAt(parseDate(birthValue), parseDate(eventValue));
  return age === null ? null : String(age);
}
