// A CSV table from bytes, as zorgbroker/intake/readers (csv_layout, dialect, csv_table,
// frames) reads it: encoding, line ending, separator and header from the first line, then the
// rows. Cells are kept as they are, except that a cell of only white space becomes empty ("").
// Trailing blank rows are dropped; blank rows between filled ones stay (row numbers keep
// matching the file's records).

import * as m from "./read_messages.js";
import { prefixVerdict, rawHeader, rowOfClash, scanEnd } from "./read_encoding.js";

export const SEPARATORS = [";", ",", "\t"];
const MAX_COLUMNS = 16384;
const MAX_HEADER_BYTES = 1024 * 1024;
const QUOTE = 0x22;

// Decide the encoding of the whole stream: UTF-8 (with or without BOM), else Windows-1252,
// unless the bytes also hold well-formed UTF-8 sequences (two exports glued together: BF-009).
export function decodeCsv(bytes, table = null) {
  const bom = bytes.length >= 3 && bytes[0] === 0xef && bytes[1] === 0xbb && bytes[2] === 0xbf;
  try {
    const text = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true }).decode(bytes);
    return { encoding: bom ? "utf-8-sig" : "utf-8", text: bom ? text.slice(1) : text, bom };
  } catch {
    const lenient = new TextDecoder("utf-8", { ignoreBOM: true }).decode(bytes);
    // What is left after dropping the invalid bytes is exactly the well-formed sequences.
    if (/[^\x00-\x7f\ufffd]/.test(lenient)) throw m.mixedEncoding(table);
    // WHATWG's windows-1252 maps the five undefined bytes to the C1 controls, as Windows does.
    return { encoding: "cp1252", text: new TextDecoder("windows-1252").decode(bytes), bom };
  }
}

function detectEol(text) {
  return text.includes("\n") || !text.includes("\r") ? "\n" : "\r";
}

// Index just past the first line end outside quotes, or -1.
function firstRecordEnd(text, eol) {
  let inside = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === QUOTE) inside = !inside;
    else if (!inside && text[i] === eol) return i + 1;
  }
  return -1;
}

export function detectSeparator(line) {
  const outside = line.split('"').filter((_, i) => i % 2 === 0);
  let best = SEPARATORS[0];
  let bestCount = -1;
  for (const sep of SEPARATORS) {
    const count = outside.reduce((n, part) => n + part.split(sep).length - 1, 0);
    if (count > bestCount) {
      best = sep;
      bestCount = count;
    }
  }
  return bestCount > 0 ? best : ";";
}

// Python's csv module (strict=False): a field that starts with a quote is quoted, "" inside it is
// one quote, and what follows the closing quote is kept as text.
function parseHeaderLine(line, sep) {
  line = line.replace(/[\r\n]+$/, "");
  if (!line.trim()) return [];
  const cells = [];
  let i = 0;
  for (;;) {
    let cell = "";
    if (line[i] === '"') {
      i++;
      for (;;) {
        if (i >= line.length) break;
        if (line[i] === '"') {
          if (line[i + 1] === '"') {
            cell += '"';
            i += 2;
            continue;
          }
          i++;
          break;
        }
        cell += line[i++];
      }
    }
    while (i < line.length && line[i] !== sep) cell += line[i++];
    cells.push(cell);
    if (i >= line.length) break;
    i++;
  }
  return cells;
}

const PY_SPACE = /^[\s\x1c-\x1f\x85]+|[\s\x1c-\x1f\x85]+$/g;

export function pyStrip(text) {
  return text.replace(PY_SPACE, "");
}

// Column names: trimmed, BOM-free, unique regardless of case (BF-008), as dialect.column_names.
export function columnNames(cells, table = null) {
  let names = cells.map((cell) => pyStrip(cell.replaceAll("\ufeff", "")));
  while (names.length && !names[names.length - 1]) names.pop();
  if (!names.length) throw m.unreadable("de kopregel bevat geen kolomnamen.", table);
  if (names.length > MAX_COLUMNS) {
    throw m.unreadable(
      `de kopregel heeft ${names.length} kolommen, meer dan de ${MAX_COLUMNS} die een tabel kan hebben.`,
      table,
    );
  }
  names = names.map((name, i) => name || `kolom_${i + 1}`);
  const firstSeen = new Map();
  names.forEach((name, i) => {
    const key = casefold(name);
    if (firstSeen.has(key)) {
      const first = firstSeen.get(key);
      throw m.duplicateColumns(first, i + 1, names[first - 1] === name, table);
    }
    firstSeen.set(key, i + 1);
  });
  return names;
}

export function casefold(text) {
  return text.toLowerCase().replaceAll("ß", "ss");
}

// White space as Rust (Polars) knows it: Unicode's White_Space property.
export const WHITE_SPACE = "\\t\\n\\v\\f\\r \\x85\\xa0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000";
const BLANK = new RegExp(`^[${WHITE_SPACE}]*$`);

// A cell of only white space counts as empty, as frames.blank_to_null.
export function isBlank(cell) {
  if (cell === "") return true;
  const c = cell.charCodeAt(0);
  // Most cells start with a visible ASCII character: no regex for those.
  if (c > 32 && c < 0x85) return false;
  return BLANK.test(cell);
}

// The data rows of `text` (from just after the header), as Polars splits them.
function parseRows(text, sep, eol, width, table) {
  const rows = [];
  const n = text.length;
  let i = 0;
  const sepCode = sep.charCodeAt(0);
  const eolCode = eol.charCodeAt(0);
  while (i < n) {
    const row = [];
    for (;;) {
      let cell;
      if (text.charCodeAt(i) === QUOTE) {
        let j = i + 1;
        let parts = "";
        for (;;) {
          const q = text.indexOf('"', j);
          if (q < 0) {
            // The rest of the file would become this one field: refused, naming the row, as
            // Python's reader does (dialect.quote_stray_quotes).
            throw m.unreadable(
              `rij ${rows.length + 1} heeft een aanhalingsteken (") dat een veld opent maar ` +
                "nooit wordt afgesloten.",
              table,
            );
          }
          parts += text.slice(j, q);
          if (text.charCodeAt(q + 1) === QUOTE) {
            parts += '"';
            j = q + 2;
          } else {
            j = q + 1;
            break;
          }
        }
        // Polars refuses a record in which a closing quote is followed by anything but the
        // separator or a line end; the reader names its row (csv_table._failure).
        const next = text.charCodeAt(j);
        if (j < n && next !== sepCode && next !== eolCode && next !== 13) {
          throw m.unreadable(
            `rij ${rows.length + 1} kan niet als CSV worden gelezen; controleer de ` +
              'aanhalingstekens (") in die rij.',
            table,
          );
        }
        let k = j;
        while (k < n && text.charCodeAt(k) !== sepCode && text.charCodeAt(k) !== eolCode) k++;
        cell = parts;
        i = k;
      } else {
        let k = i;
        while (k < n && text.charCodeAt(k) !== sepCode && text.charCodeAt(k) !== eolCode) k++;
        cell = stripCr(text.slice(i, k));
        i = k;
      }
      if (row.length < width) row.push(isBlank(cell) ? "" : cell);
      if (i < n && text.charCodeAt(i) === sepCode) {
        i++;
        continue;
      }
      i++; // past the line end (or the end of the text)
      break;
    }
    while (row.length < width) row.push("");
    rows.push(row);
  }
  return dropTrailingBlank(rows);
}

function stripCr(cell) {
  return cell.endsWith("\r") ? cell.slice(0, -1) : cell;
}

export function dropTrailingBlank(rows) {
  let end = rows.length;
  while (end > 0 && rows[end - 1].every((cell) => cell === "")) end--;
  rows.length = end;
  return rows;
}

// The layout of a CSV stream (encoding, separator, line end, header) and the text of its
// records, or a ReadError: what readers/csv_layout.py learns when the file is opened.
// `requireRows`: a lone table needs data below its header (BF-005); a table of several may be
// empty.
export function csvLayout(bytes, { table = null, requireRows = true, head = SCAN_BLOCK } = {}) {
  const partial = partialScan(bytes, head, table);
  const decoded = partial?.decoded ?? decodeCsv(bytes, table);
  const encoding = decoded.encoding;
  // A BOM before bytes that are no UTF-8 is still no part of the header.
  const text = decoded.bom && encoding === "cp1252" ? decoded.text.slice(3) : decoded.text;
  const eol = detectEol(text.slice(0, 65536));
  let end = firstRecordEnd(text, eol);
  if (end < 0) {
    // No line end outside quotes at all: past 1 MB that is no table with a header
    // (csv_layout._find_header).
    if (bytes.length > MAX_HEADER_BYTES) {
      throw m.unreadable(
        "de eerste regel is langer dan 1 MB; dit is geen tabel met een kopregel.",
        table,
      );
    }
    end = text.length;
  }
  const headerLine = text.slice(0, end);
  if (!headerLine.trim()) throw m.noData(table);
  const sep = detectSeparator(headerLine);
  const rest = text.slice(end);
  const dataPattern = new RegExp(`[^ \\t\\n\\r\\f\\v${sep === "\t" ? "" : sep}]`);
  if (requireRows && !dataPattern.test(rest)) throw m.noData(table);
  const header = columnNames(parseHeaderLine(headerLine, sep), table);
  return { encoding, separator: sep, eol, header, rest, table, clashRow: partial?.clashRow ?? null };
}

const SCAN_BLOCK = 16 * 1024 * 1024;

// A stream longer than Python's first scan block is judged as Python judges it
// (read_encoding.js): on the part its scan reads, with a clash further on named by its row.
function partialScan(bytes, head, table) {
  if (bytes.length <= head) return null;
  const raw = rawHeader(bytes);
  const headerText = new TextDecoder("windows-1252").decode(bytes.subarray(raw.start, raw.end));
  const separator = detectSeparator(headerText);
  const scanned = scanEnd(bytes, { head, separator, dataOffset: raw.end });
  if (scanned >= bytes.length) return null;
  const verdict = prefixVerdict(bytes, scanned);
  if (verdict === "mixed") throw m.mixedEncoding(table);
  const bom = raw.start === 3;
  const columns = columnCount(headerText, separator);
  const where = { scanned, eol: raw.eol, dataOffset: raw.end, columns };
  const clashRow = rowOfClash(bytes, verdict, where);
  if (verdict === "cp1252") {
    return { decoded: { encoding: "cp1252", text: new TextDecoder("windows-1252").decode(bytes), bom }, clashRow };
  }
  const text = new TextDecoder("utf-8", { ignoreBOM: true }).decode(bytes);
  return { decoded: { encoding: bom ? "utf-8-sig" : "utf-8", text: bom ? text.slice(1) : text, bom }, clashRow };
}

function columnCount(headerText, separator) {
  try {
    return Math.max(1, columnNames(parseHeaderLine(headerText, separator)).length);
  } catch {
    return 1;
  }
}

// The rows of a CSV stream whose layout is known (what the table's batches give).
export function csvRows(layout) {
  if (layout.clashRow !== null) throw m.mixedEncoding(layout.table, layout.clashRow);
  return parseRows(layout.rest, layout.separator, layout.eol, layout.header.length, layout.table);
}

// {encoding, separator, header, rows} of a CSV stream, or a ReadError.
export function readCsv(bytes, options = {}) {
  const layout = csvLayout(bytes, options);
  return { encoding: layout.encoding, separator: layout.separator, header: layout.header, rows: csvRows(layout) };
}
