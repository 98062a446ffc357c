// How Python settles a large CSV stream's encoding, so that a mixed one is refused with the
// same message. readers/upload.py learns the layout from the first blocks only (16 MB each; for
// an archive member a 64 kB head first) and stops as soon as it has seen data and a byte outside
// ASCII; whatever follows is checked while the rows are parsed, in pieces of up to 32 MB, and a
// clash there names a row (readers/csv_table.py). A stream within the first blocks is judged
// whole, as the browser judges every stream.

const SCAN_BLOCK = 16 * 1024 * 1024;
const CHUNK_BYTES = 32 * 1024 * 1024;
const MIN_BLOCK = 64 * 1024;
const CELL_BUDGET = 32_000_000;
const BATCH_ROWS = 500_000;
const QUOTE = 0x22;

function isAsciiFrom(bytes, from, to) {
  for (let i = from; i < to; i++) if (bytes[i] >= 0x80) return i;
  return -1;
}

// Bytes at the end of `bytes[0:end]` that start a multi-byte sequence cut off by the end.
function incompleteTail(bytes, end) {
  for (let back = 1; back <= Math.min(3, end); back++) {
    const byte = bytes[end - back];
    if ((byte & 0xc0) === 0x80) continue;
    const length = byte >= 0xf0 ? 4 : byte >= 0xe0 ? 3 : byte >= 0xc0 ? 2 : 1;
    return length > back ? back : 0;
  }
  return 0;
}

// Index just past the first line end outside quotes at or after `start`, or -1.
function recordEnd(bytes, eol, start) {
  let inside = false;
  for (let i = start; i < bytes.length; i++) {
    const b = bytes[i];
    if (b === QUOTE) inside = !inside;
    else if (!inside && b === eol) return i + 1;
  }
  return -1;
}

// Record ends (line ends outside quotes) in bytes[from:to], and the last one's position.
function recordEnds(bytes, eol, from, to) {
  let inside = false;
  let count = 0;
  let last = -1;
  for (let i = from; i < to; i++) {
    const b = bytes[i];
    if (b === QUOTE) inside = !inside;
    else if (!inside && b === eol) {
      count++;
      last = i + 1;
    }
  }
  return { count, last };
}

function isDataByte(b, sep) {
  return !(b === 0x20 || (b >= 0x09 && b <= 0x0d) || b === sep);
}

// Where Python's layout scan stops: the end of the block in which it has seen both a data byte
// below the header and a byte outside ASCII; the stream's length if it never does.
export function scanEnd(bytes, { head, separator, dataOffset }) {
  if (bytes.length <= head) return bytes.length;
  const firstWide = isAsciiFrom(bytes, 0, bytes.length);
  if (firstWide < 0) return bytes.length;
  let firstData = -1;
  for (let i = dataOffset; i < bytes.length; i++) {
    if (isDataByte(bytes[i], separator.charCodeAt(0))) {
      firstData = i;
      break;
    }
  }
  if (firstData < 0) return bytes.length;
  const needed = Math.max(firstWide, firstData);
  let end = head;
  while (end <= needed) end += SCAN_BLOCK;
  return Math.min(end, bytes.length);
}

function validUtf8(bytes) {
  try {
    new TextDecoder("utf-8", { fatal: true }).decode(bytes);
    return true;
  } catch {
    return false;
  }
}

function hasWellFormedMultibyte(bytes) {
  const lenient = new TextDecoder("utf-8", { ignoreBOM: true }).decode(bytes);
  return /[^\x00-\x7f\ufffd]/.test(lenient);
}

// The verdict on the scanned part (its cut-off last character left out): "utf-8", "cp1252" or
// "mixed".
export function prefixVerdict(bytes, end) {
  const part = bytes.subarray(0, end - incompleteTail(bytes, end));
  if (validUtf8(part)) return "utf-8";
  return hasWellFormedMultibyte(part) ? "mixed" : "cp1252";
}

// The first byte from `from` on that makes UTF-8 invalid (overlong forms, surrogates and code
// points past U+10FFFF included), or -1.
function firstInvalid(bytes, from) {
  let i = from;
  while (i < bytes.length) {
    const b = bytes[i];
    if (b < 0x80) {
      i++;
      continue;
    }
    let need;
    let min;
    if (b >= 0xc2 && b <= 0xdf) (need = 1), (min = 0x80);
    else if (b >= 0xe0 && b <= 0xef) (need = 2), (min = 0x800);
    else if (b >= 0xf0 && b <= 0xf4) (need = 3), (min = 0x10000);
    else return i;
    let code = b & (0x3f >> need);
    for (let k = 1; k <= need; k++) {
      const c = bytes[i + k];
      if (c === undefined || (c & 0xc0) !== 0x80) return i;
      code = (code << 6) | (c & 0x3f);
    }
    if (code < min || code > 0x10ffff || (code >= 0xd800 && code <= 0xdfff)) return i;
    i += need + 1;
  }
  return -1;
}

// The row Python names when the rows clash with the encoding its scan decided, or null when
// they do not. `utf-8`: the record holding the first invalid byte. `cp1252`: the first record
// of the piece (of up to 32 MB, cut at a record end) holding well-formed UTF-8.
export function rowOfClash(bytes, verdict, { scanned, eol, dataOffset, columns }) {
  const eolByte = eol.charCodeAt(0);
  if (verdict === "utf-8") {
    // The scanned part was valid up to its cut-off last character: look on from there.
    const bad = firstInvalid(bytes, Math.max(dataOffset, scanned - incompleteTail(bytes, scanned)));
    if (bad < 0) return null;
    return recordEnds(bytes, eolByte, dataOffset, bad).count + 1;
  }
  const budget = Math.max(2, Math.min(BATCH_ROWS, Math.floor(CELL_BUDGET / columns)));
  let start = dataOffset;
  let block = CHUNK_BYTES;
  let rows = 0;
  while (start < bytes.length) {
    let stop = Math.min(bytes.length, start + block);
    let pieceEnd = stop;
    if (stop < bytes.length) {
      const ends = recordEnds(bytes, eolByte, start, stop);
      // No record end in the block: it grows until one comes (the reader reads on).
      while (ends.last < 0 && stop < bytes.length) {
        stop = Math.min(bytes.length, stop + block);
        const more = recordEnds(bytes, eolByte, start, stop);
        ends.last = more.last;
      }
      pieceEnd = ends.last < 0 ? stop : ends.last;
    }
    const piece = bytes.subarray(start, pieceEnd);
    if (hasWellFormedMultibyte(piece)) return rows + 1;
    const { count, last } = recordEnds(bytes, eolByte, start, pieceEnd);
    const pieceRows = count + (last === pieceEnd ? 0 : 1);
    rows += pieceRows;
    const fitting = pieceRows ? Math.floor(((pieceEnd - start) / pieceRows) * budget * 0.8) : CHUNK_BYTES;
    block = pieceRows ? Math.max(Math.min(CHUNK_BYTES, MIN_BLOCK), Math.min(CHUNK_BYTES, fitting)) : CHUNK_BYTES;
    start = pieceEnd;
  }
  return null;
}

// Where the header line ends in the raw bytes (after a BOM), its line end and separator.
export function rawHeader(bytes) {
  const start = bytes[0] === 0xef && bytes[1] === 0xbb && bytes[2] === 0xbf ? 3 : 0;
  const sniff = bytes.subarray(0, 65536);
  const eol = sniff.includes(0x0a) || !sniff.includes(0x0d) ? 0x0a : 0x0d;
  let end = recordEnd(bytes, eol, start);
  if (end < 0) end = bytes.length;
  return { start, end, eol: String.fromCharCode(eol) };
}
