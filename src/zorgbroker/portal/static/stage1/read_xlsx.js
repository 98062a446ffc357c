// XLSX workbooks: sheets as tables of text, as readers/xlsx.py (python-calamine) shows them.
// Whole numbers print as integers, other numbers with up to 15 significant digits; dates as
// YYYY-MM-DD (with " HH:MM:SS" when there is a time of day), times as HH:MM:SS; booleans as
// Dutch Excel shows them (WAAR, ONWAAR); error values and formulas without a stored value are
// empty. Rows count from A1, columns from the leftmost filled one, as calamine hands them over.

import * as m from "./read_messages.js";
import { memberBytes } from "./read_zip.js";
import { columnNames, dropTrailingBlank, casefold, isBlank, pyStrip } from "./read_csv.js";

export const MAX_SHEET_CELLS = 32_000_000;
const utf8 = new TextDecoder("utf-8");

const ENTITIES = { lt: "<", gt: ">", amp: "&", quot: '"', apos: "'" };
function unescapeXml(text) {
  if (!text.includes("&")) return text;
  return text.replace(/&(#x[0-9a-fA-F]+|#[0-9]+|[a-z]+);/g, (all, name) => {
    if (name[0] === "#") {
      const code = name[1] === "x" ? parseInt(name.slice(2), 16) : parseInt(name.slice(1), 10);
      return String.fromCodePoint(code);
    }
    return ENTITIES[name] ?? all;
  });
}

function attr(tag, name) {
  const found = new RegExp(`\\s(?:\\w+:)?${name}\\s*=\\s*"([^"]*)"`).exec(tag);
  return found ? unescapeXml(found[1]) : null;
}

// The text of <t> elements in `xml` (a shared string or inline string), leaving out phonetic
// runs (<rPh>), which Excel does not show.
function runText(xml) {
  const clean = xml.replace(/<(\w+:)?rPh\b[\s\S]*?<\/(\w+:)?rPh>/g, "");
  let out = "";
  for (const found of clean.matchAll(/<(?:\w+:)?t(?:\s[^>]*)?>([\s\S]*?)<\/(?:\w+:)?t>/g)) {
    out += unescapeXml(found[1]);
  }
  return out;
}

function sharedStrings(xml) {
  if (xml === null) return [];
  const out = [];
  for (const found of xml.matchAll(/<(?:\w+:)?si\b[^>]*?(?:\/>|>([\s\S]*?)<\/(?:\w+:)?si>)/g)) {
    out.push(found[1] === undefined ? "" : runText(found[1]));
  }
  return out;
}

const BUILTIN_DATES = new Set([14, 15, 16, 17, 18, 19, 20, 21, 22, 45, 46, 47]);
for (let id = 27; id <= 36; id++) BUILTIN_DATES.add(id);
for (let id = 50; id <= 58; id++) BUILTIN_DATES.add(id);
const BUILTIN_TIMES = new Set([18, 19, 20, 21, 45, 46, 47]);

// Per style index: "date", "time", "duration" or null.
function styleKinds(xml) {
  if (xml === null) return [];
  const custom = new Map();
  for (const found of xml.matchAll(/<(?:\w+:)?numFmt\b[^>]*>/g)) {
    custom.set(Number(attr(found[0], "numFmtId")), attr(found[0], "formatCode") ?? "");
  }
  const cellXfs = /<(?:\w+:)?cellXfs\b[^>]*>([\s\S]*?)<\/(?:\w+:)?cellXfs>/.exec(xml);
  if (!cellXfs) return [];
  const kinds = [];
  for (const found of cellXfs[1].matchAll(/<(?:\w+:)?xf\b[^>]*>/g)) {
    const id = Number(attr(found[0], "numFmtId") ?? 0);
    if (custom.has(id)) kinds.push(formatKind(custom.get(id)));
    else if (BUILTIN_TIMES.has(id)) kinds.push("time");
    else if (BUILTIN_DATES.has(id)) kinds.push("date");
    else kinds.push(null);
  }
  return kinds;
}

function formatKind(code) {
  // Quoted text, escaped characters and [colour] sections say nothing about dates.
  const bare = code.replace(/"[^"]*"|\\.|_.|\*./g, "");
  if (/\[(h+|m+|s+)\]/i.test(bare)) return "duration";
  const plain = bare.replace(/\[[^\]]*\]/g, "").split(";")[0];
  if (/[dy]/i.test(plain)) return "date";
  if (/[hs]/i.test(plain)) return "time";
  if (/m/i.test(plain) && !/[0#?]/.test(plain)) return "date";
  return null;
}

// Python's format(value, ".15g").
export function numberText(value) {
  if (Number.isInteger(value) && Math.abs(value) < 1e15) return String(value);
  if (!Number.isFinite(value)) return String(value);
  const exponent = value === 0 ? 0 : Math.floor(Math.log10(Math.abs(value)));
  let text = value.toPrecision(15);
  let [mantissa, exp] = text.split("e");
  let e = exp === undefined ? null : Number(exp);
  if (e === null && (exponent < -4 || exponent >= 15)) {
    [mantissa, exp] = value.toExponential(14).split("e");
    e = Number(exp);
  }
  if (mantissa.includes(".")) mantissa = mantissa.replace(/0+$/, "").replace(/\.$/, "");
  if (e === null) return mantissa;
  const sign = e < 0 ? "-" : "+";
  return `${mantissa}e${sign}${String(Math.abs(e)).padStart(2, "0")}`;
}

function two(n) {
  return String(n).padStart(2, "0");
}

function dateText(serial, kind, date1904) {
  if (kind === "duration") {
    const seconds = Math.round(serial * 86400);
    const sign = seconds < 0 ? "-" : "";
    const abs = Math.abs(seconds);
    return `${sign}${Math.floor(abs / 3600)}:${two(Math.floor((abs % 3600) / 60))}:${two(abs % 60)}`;
  }
  // Excel's day 60 is the 29 February 1900 that never was: earlier serials are a day off.
  const epoch = date1904 ? Date.UTC(1904, 0, 1) : Date.UTC(1899, 11, serial < 60 ? 31 : 30);
  const ms = Math.round(serial * 86400 * 1000);
  const when = new Date(epoch + ms);
  const date = `${String(when.getUTCFullYear()).padStart(4, "0")}-${two(when.getUTCMonth() + 1)}-${two(when.getUTCDate())}`;
  const time = `${two(when.getUTCHours())}:${two(when.getUTCMinutes())}:${two(when.getUTCSeconds())}`;
  if (kind === "time" && serial < 1) return time;
  if (Number.isInteger(serial)) return date;
  return `${date} ${time}`;
}

const WORKSHEET_PART = /(^|\/)worksheets\/[^/]+\.xml$/;
const FORMULA_TAG = /<f>|<f |:f>|:f /;
const FORMULA_WITHOUT_VALUE = /<(?:\w+:)?f\b(?:[^>]*\/>|[^>]*>[^<]*<\/(?:\w+:)?f>)\s*<\/(?:\w+:)?c>/;

// Tags of a worksheet the scan stops at: rows and cells (with any namespace prefix).
const TAG = /<(?:[A-Za-z_][\w.-]*:)?(row|c)\b([^>]*?)(\/?)>/g;
const PREFIX = /^<([A-Za-z_][\w.-]*:)?/;
const VALUE = /<(?:\w+:)?v(?:\s[^>]*)?>([\s\S]*?)<\/(?:\w+:)?v>/;
const INLINE = /<(?:\w+:)?is\b[^>]*>([\s\S]*?)<\/(?:\w+:)?is>/;

// An attribute's value from a tag's attribute text, or null (no RegExp per call: a sheet has
// millions of cells).
function attrOf(attrs, name) {
  const key = `${name}="`;
  let at = attrs.indexOf(key);
  while (at > 0 && attrs.charCodeAt(at - 1) > 32) at = attrs.indexOf(key, at + 1);
  if (at < 0) return null;
  const start = at + key.length;
  return attrs.slice(start, attrs.indexOf('"', start));
}

function columnOf(ref) {
  let n = 0;
  for (let i = 0; i < ref.length; i++) {
    const c = ref.charCodeAt(i);
    if (c >= 65 && c <= 90) n = n * 26 + c - 64;
    else if (c >= 97 && c <= 122) n = n * 26 + c - 96;
    else if (c !== 36) break;
  }
  return n;
}

function cellValue(type, inner, styleIndex, strings, kinds, date1904) {
  if (type === "inlineStr") {
    if (inner.startsWith("<is><t>") && inner.endsWith("</t></is>")) {
      const text = inner.slice(7, -9);
      if (!text.includes("<")) return unescapeXml(text);
    }
    const inline = INLINE.exec(inner);
    return inline ? runText(inline[1]) : "";
  }
  let raw;
  if (inner.startsWith("<v>") && inner.endsWith("</v>") && inner.indexOf("<", 3) === inner.length - 4) {
    raw = inner.slice(3, -4);
  } else {
    const value = VALUE.exec(inner);
    if (value === null) return null;
    raw = value[1];
  }
  raw = unescapeXml(raw);
  switch (type) {
    case "s":
      return strings[Number(raw)] ?? "";
    case "str":
      return raw;
    case "b":
      return raw === "1" || raw === "true" ? "WAAR" : "ONWAAR";
    case "e":
      return "";
    case "d":
      return raw.replace("T", " ").replace(/ 00:00:00(\.0+)?$/, "");
  }
  const number = Number(raw);
  const kind = kinds[styleIndex] ?? null;
  return kind !== null ? dateText(number, kind, date1904) : numberText(number);
}

// A worksheet's filled cells: rows[rowIndex0] = [col1, text, col1, text, ...].
function sheetCells(xml, strings, kinds, date1904) {
  const rows = [];
  let minCol = Infinity;
  let maxCol = 0;
  let maxRow = 0;
  let rowNumber = 0;
  let col = 0;
  let cells = null;
  TAG.lastIndex = 0;
  for (;;) {
    const found = TAG.exec(xml);
    if (found === null) break;
    const attrs = found[2];
    if (found[1] === "row") {
      const r = attrOf(attrs, "r");
      rowNumber = r !== null ? Number(r) : rowNumber + 1;
      col = 0;
      cells = null;
      continue;
    }
    const ref = attrOf(attrs, "r");
    col = ref !== null ? columnOf(ref) : col + 1;
    if (found[3] === "/") continue; // a merely formatted cell
    const open = found[0];
    const close = open[2] === " " || open[2] === ">" || open[2] === "/" ? "</c>" : `</${PREFIX.exec(open)[1]}c>`;
    const end = xml.indexOf(close, TAG.lastIndex);
    if (end < 0) break;
    const inner = xml.slice(TAG.lastIndex, end);
    TAG.lastIndex = end + close.length;
    const type = attrOf(attrs, "t") ?? "n";
    const style = attrOf(attrs, "s");
    const text = cellValue(type, inner, style === null ? 0 : Number(style), strings, kinds, date1904);
    if (text === null || text === "") continue;
    if (cells === null) {
      cells = rows[rowNumber - 1] ?? (rows[rowNumber - 1] = []);
    }
    cells.push(col, text);
    if (col < minCol) minCol = col;
    if (col > maxCol) maxCol = col;
    if (rowNumber > maxRow) maxRow = rowNumber;
  }
  return { rows, minCol, maxCol, maxRow };
}

function resolveTarget(target) {
  if (target.startsWith("/")) return target.slice(1);
  const parts = ["xl"];
  for (const part of target.split("/")) {
    if (part === "..") parts.pop();
    else if (part !== ".") parts.push(part);
  }
  return parts.join("/");
}

// The workbook's tables: {tables: [{name, member, header, rows}], warnings}.
export async function readWorkbook(bytes, members, tableNames) {
  const byName = new Map(members.map((member) => [member.name.toLowerCase(), member]));
  const broken = () => m.unreadable("de Excel-werkmap is beschadigd of onvolledig.");
  // Python streams every XML part before calamine opens the workbook: a part that does not
  // unpack is a damaged archive (BF-001), whichever part it is.
  // The parts are kept unpacked for what follows (each is read once).
  const unpacked = new Map();
  for (const member of members) {
    const name = member.name.toLowerCase();
    if (!member.isDir && name.endsWith(".xml")) unpacked.set(name, await memberBytes(bytes, member));
  }
  const partText = async (_bytes, byName, name) => {
    const key = name.toLowerCase();
    if (unpacked.has(key)) {
      const text = utf8.decode(unpacked.get(key));
      unpacked.delete(key);
      return text;
    }
    const member = byName.get(key);
    return member === undefined ? null : utf8.decode(await memberBytes(bytes, member));
  };
  const workbook = await partText(bytes, byName, "xl/workbook.xml");
  const rels = (await partText(bytes, byName, "xl/_rels/workbook.xml.rels")) ?? "";
  if (workbook === null) throw broken();
  const date1904 = /date1904\s*=\s*"(1|true)"/.test(workbook);
  const targets = new Map();
  for (const found of rels.matchAll(/<(?:\w+:)?Relationship\b[^>]*>/g)) {
    targets.set(attr(found[0], "Id"), {
      path: resolveTarget(attr(found[0], "Target") ?? ""),
      worksheet: /\/worksheet$/.test(attr(found[0], "Type") ?? ""),
    });
  }
  const sheets = [];
  for (const found of workbook.matchAll(/<(?:\w+:)?sheet\b[^>]*>/g)) {
    const target = targets.get(attr(found[0], "id")) ?? { path: "", worksheet: false };
    const state = attr(found[0], "state") ?? "visible";
    sheets.push({
      name: attr(found[0], "name") ?? "",
      path: target.path,
      visible: target.worksheet && state === "visible",
    });
  }
  const strings = sharedStrings(await partText(bytes, byName, "xl/sharedstrings.xml"));
  const kinds = styleKinds(await partText(bytes, byName, "xl/styles.xml"));
  const visible = sheets.filter((sheet) => sheet.visible);
  const warnings = [];
  const chosen = new Map();
  if (tableNames === null) {
    if (!visible.length) throw m.noData();
    chosen.set("main", visible[0]);
  } else {
    const wanted = new Map(tableNames.map((table) => [casefold(table), table]));
    for (const sheet of sheets) {
      const table = wanted.get(casefold(pyStrip(sheet.name)));
      if (table !== undefined && !chosen.has(table)) chosen.set(table, sheet);
      else if (sheet.visible) warnings.push(m.extraMember(sheet.name, "werkblad"));
    }
  }
  const tables = [];
  let formulas = false;
  let withoutValues = false;
  const order = tableNames === null ? ["main"] : tableNames.filter((t) => chosen.has(t));
  const loaded = [];
  for (const table of order) {
    const sheet = chosen.get(table);
    const label = tableNames === null ? null : table;
    const xml = await partText(bytes, byName, sheet.path);
    if (xml === null) throw m.unreadable("een werkblad van de Excel-werkmap is beschadigd.", label);
    const cells = sheetCells(xml, strings, kinds, date1904);
    formulas ||= FORMULA_TAG.test(xml);
    withoutValues ||= FORMULA_WITHOUT_VALUE.test(xml);
    const width = cells.maxCol >= cells.minCol ? cells.maxCol - cells.minCol + 1 : 0;
    if (cells.maxRow * Math.max(cells.maxCol, 26) > MAX_SHEET_CELLS) {
      throw m.sheetTooLarge(cells.maxRow * Math.max(cells.maxCol, 26), MAX_SHEET_CELLS);
    }
    loaded.push({ table, label, sheet, cells, width });
  }
  for (const { table, label, sheet, cells, width } of loaded) {
    const line = (index) => {
      const row = new Array(width).fill("");
      const found = cells.rows[index];
      if (found !== undefined) {
        for (let k = 0; k < found.length; k += 2) row[found[k] - cells.minCol] = found[k + 1];
      }
      return row;
    };
    const first = width ? line(0) : [];
    if (!first.length || first.every((cell) => cell === "")) throw m.noData(label);
    if (tableNames === null && cells.maxRow < 2) throw m.noData(label);
    const header = columnNames(first, label);
    const rows = [];
    for (let index = 1; index < cells.maxRow; index++) {
      const row = line(index);
      row.length = Math.min(row.length, header.length);
      for (let k = 0; k < row.length; k++) if (isBlank(row[k])) row[k] = "";
      rows.push(row);
    }
    tables.push({ name: table, member: sheet.name, header, rows: dropTrailingBlank(rows) });
  }
  // Formulas anywhere in the workbook count, as xlsx_scan looks at every worksheet part.
  const seen = new Set(loaded.map(({ sheet }) => sheet.path.toLowerCase()));
  for (const member of members) {
    const path = member.name.toLowerCase();
    if (seen.has(path) || !WORKSHEET_PART.test(path) || (formulas && withoutValues)) continue;
    const xml = (await partText(bytes, byName, member.name)) ?? "";
    formulas ||= FORMULA_TAG.test(xml);
    withoutValues ||= FORMULA_WITHOUT_VALUE.test(xml);
  }
  if (withoutValues) warnings.push(m.formulasWithoutValues());
  else if (formulas) warnings.push(m.formulasIgnored());
  return { tables, warnings };
}
