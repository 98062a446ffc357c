// readExport: a hospital's export (CSV in UTF-8 or Windows-1252 with ";", "," or tab, an XLSX
// workbook, or a ZIP of CSV tables) read in the browser exactly as zorgbroker's Python readers
// and the check's structure step read it: the same tables of text, the same file information,
// and the same file-level messages (the stage-1 manifest's `file_messages`) with the same codes
// and Dutch texts. Nothing here knows a dataset: table names, fields and structure come from the
// plan (docs/pseudonymisation.md 8.7).

import * as m from "./read_messages.js";
import { csvLayout, csvRows, casefold, pyStrip } from "./read_csv.js";
import {
  MAX_ARCHIVE_MEMBERS,
  MAX_WORKBOOK_MEMBERS,
  baseName,
  checkContainer,
  memberBytes,
  openArchive,
} from "./read_zip.js";
import { readWorkbook } from "./read_xlsx.js";
import { fileStructureMessages } from "./read_structure.js";

export const LIMITS = {
  maxFileBytes: 8 * 1024 ** 3,
  maxUnpackedBytes: 8 * 1024 ** 3,
  maxCompressionRatio: 200,
};

const SNIFF_BYTES = 64 * 1024;
const SAVE_AS = "sla het bestand op als CSV (UTF-8) of als Excel-werkmap (.xlsx).";
const KNOWN_BINARY = [
  [[0xd0, 0xcf, 0x11, 0xe0, 0xa1, 0xb1, 0x1a, 0xe1],
    "dit is een oud Excel-bestand (.xls) of een met een wachtwoord beveiligde werkmap; " + SAVE_AS],
  [[0x25, 0x50, 0x44, 0x46], "dit is een PDF-bestand; " + SAVE_AS],
  [[0x1f, 0x8b], "gzip-archieven worden niet ondersteund; gebruik ZIP."],
  [[0x37, 0x7a, 0xbc, 0xaf, 0x27, 0x1c], "7-Zip-archieven worden niet ondersteund; gebruik ZIP."],
  [[0x52, 0x61, 0x72, 0x21, 0x1a, 0x07], "RAR-archieven worden niet ondersteund; gebruik ZIP."],
  [[0xff, 0xfe], "UTF-16-tekst wordt niet ondersteund; " + SAVE_AS],
  [[0xfe, 0xff], "UTF-16-tekst wordt niet ondersteund; " + SAVE_AS],
];
const ZIP_MAGICS = [[0x50, 0x4b, 3, 4], [0x50, 0x4b, 5, 6], [0x50, 0x4b, 7, 8]];

function startsWith(bytes, magic) {
  return magic.every((byte, i) => bytes[i] === byte);
}

function isZip(head) {
  return ZIP_MAGICS.some((magic) => startsWith(head, magic));
}

// As readers/sniff.py: ZIP, text, or BF-002.
export function sniff(head) {
  if (isZip(head)) return "zip";
  for (const [magic, explanation] of KNOWN_BINARY) {
    if (startsWith(head, magic)) throw m.unknownFormat(explanation);
  }
  let controls = 0;
  for (let i = 0; i < head.length; i++) {
    const b = head[i];
    if (b === 0) throw m.unknownFormat("het bestand is geen CSV-, XLSX- of ZIP-bestand.");
    if (b < 0x20 && !(b >= 0x09 && b <= 0x0d) && b !== 0x1a) controls++;
  }
  if (controls > Math.floor(head.length / 1000)) {
    throw m.unknownFormat("het bestand is geen CSV-, XLSX- of ZIP-bestand.");
  }
  return "text";
}

async function sha256Hex(bytes) {
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", bytes));
  return Array.from(digest, (b) => b.toString(16).padStart(2, "0")).join("");
}

function listed(names) {
  if (names.length < 2) return names.join("");
  return `${names.slice(0, -1).join(", ")} en ${names[names.length - 1]}`;
}

// The spec's table names when the dataset has several (the readers look for those), else null.
function wantedTables(plan) {
  return plan.multi_table ? plan.tables.map((t) => t.name) : null;
}

async function readCsvFile(bytes, name, plan, state) {
  const tables = wantedTables(plan);
  let table = "main";
  // The name is judged before the content, as readers/upload.py does.
  if (tables !== null) {
    const stem = name.includes(".") ? name.slice(0, name.lastIndexOf(".")) || name : name;
    table = tables.find((t) => casefold(t) === casefold(pyStrip(stem)));
    if (table === undefined) {
      throw m.wrongLayout(
        `een ZIP-archief met de tabellen ${listed(tables)} als CSV-bestanden, of een ` +
          "Excel-werkmap met een werkblad per tabel",
        "dit is één CSV-bestand dat niet naar een van die tabellen heet",
        plan.dataset,
      );
    }
  }
  const layout = csvLayout(bytes, { table: null, requireRows: tables === null });
  // From here on the file is open: a refusal still names its encoding, as Python's report does.
  state.encoding = layout.encoding;
  return {
    format: "csv",
    encoding: layout.encoding,
    tables: [{ name: table, member: name, header: layout.header, rows: csvRows(layout) }],
    warnings: layout.encoding === "cp1252" ? [m.notUtf8(null)] : [],
  };
}

function refuseOtherOfficeFormats(names) {
  if (names.has("xl/workbook.bin")) {
    throw m.unknownFormat(
      "binaire Excel-werkmappen (.xlsb) worden niet ondersteund; sla op als .xlsx of CSV.",
    );
  }
  if (names.has("content.xml") && names.has("mimetype")) {
    throw m.unknownFormat(
      "OpenDocument-bestanden (.ods) worden niet ondersteund; sla op als .xlsx of CSV.",
    );
  }
}

async function readContainer(bytes, plan, state) {
  const tables = wantedTables(plan);
  const members = openArchive(bytes, MAX_WORKBOOK_MEMBERS);
  const names = new Set(members.map((member) => member.name.toLowerCase()));
  refuseOtherOfficeFormats(names);
  const limits = { maxUnpacked: LIMITS.maxUnpackedBytes, maxRatio: LIMITS.maxCompressionRatio };
  if (names.has("xl/workbook.xml")) {
    state.format = "xlsx";
    checkContainer(members, { ...limits, maxMembers: MAX_WORKBOOK_MEMBERS, allowNested: true });
    const book = await readWorkbook(bytes, members, tables);
    return { format: "xlsx", encoding: null, ...book };
  }
  checkContainer(members, { ...limits, maxMembers: MAX_ARCHIVE_MEMBERS, allowNested: false });
  const choice = chooseMembers(members, tables, plan.dataset);
  const warnings = choice.extras.map((extra) => m.extraMember(extra));
  const encodingWarnings = [];
  // Every member's layout first (Python learns them when it opens the archive), then the rows.
  const layouts = [];
  for (const table of tables ?? ["main"]) {
    const member = choice.tables.get(table);
    if (member === undefined) continue;
    const label = tables === null ? null : table;
    const data = await memberBytes(bytes, member, label);
    const head = data.subarray(0, SNIFF_BYTES);
    if (isZip(head)) throw m.unsafeArchive("het archief bevat een ander archief of werkmap.");
    try {
      sniff(head);
    } catch (error) {
      error.table = label;
      throw error;
    }
    const layout = csvLayout(data, { table: label, requireRows: tables === null });
    if (layout.encoding === "cp1252") encodingWarnings.push(m.notUtf8(label));
    layouts.push({ table, member, layout });
  }
  const firstEncoding = layouts.length ? layouts[0].layout.encoding : null;
  state.encoding = firstEncoding;
  const found = layouts.map(({ table, member, layout }) => ({
    name: table,
    member: member.name,
    header: layout.header,
    rows: csvRows(layout),
  }));
  return {
    format: "zip",
    encoding: firstEncoding,
    tables: found,
    warnings: [...warnings, ...encodingWarnings],
  };
}

// As archive.choose_members: `<table>.csv` members (folders and letter case ignored).
function chooseMembers(members, tables, dataset) {
  const chosen = new Map();
  const extras = [];
  const wanted = tables === null ? null : new Map(tables.map((t) => [casefold(t), t]));
  const csvMembers = [];
  for (const member of members) {
    const name = baseName(member);
    if (name === null) continue;
    const dot = name.lastIndexOf(".");
    const stem = dot >= 0 ? name.slice(0, dot) : "";
    const isCsv = dot >= 0 && name.slice(dot + 1).toLowerCase() === "csv";
    if (wanted === null) {
      if (isCsv) csvMembers.push(member);
      else extras.push(name);
      continue;
    }
    const table = isCsv ? wanted.get(casefold(stem)) : undefined;
    if (table === undefined) extras.push(name);
    else if (chosen.has(table)) throw m.unreadable(`tabel '${table}' staat twee keer in het archief.`, table);
    else chosen.set(table, member);
  }
  if (wanted === null) {
    if (csvMembers.length !== 1) {
      const count = csvMembers.length ? String(csvMembers.length) : "geen";
      throw m.wrongLayout(
        "één CSV- of XLSX-bestand, of een ZIP-archief met precies één CSV-bestand",
        `dit ZIP-archief bevat ${count} CSV-bestanden`,
        dataset,
      );
    }
    chosen.set("main", csvMembers[0]);
  }
  return { tables: chosen, extras };
}

function fileMessage(code, { table = null, field = null, value = null, text = null } = {}) {
  return { code, table, field, value, text };
}

// The export read as the check reads it: file information, tables of text under the
// specification's table names, and the manifest's file-level messages (a BF refuses the export:
// `refused` is true and no table travels).
export async function readExport(file, plan) {
  const name = file.name;
  const size = file.size;
  const state = { format: "unknown", sha256: "", encoding: null };
  const multi = Boolean(plan.multi_table);
  const info = (encoding = null) => ({
    name,
    sha256: state.sha256,
    size,
    bytes: size,
    format: state.format,
    encoding,
  });
  const refuse = (error) => ({
    file: info(state.encoding),
    tables: [],
    fileMessages: [fileMessage(error.code, { table: multi ? error.table ?? null : null, text: error.message })],
    refused: true,
    records: 0,
  });
  if (size > LIMITS.maxFileBytes) return refuse(m.tooLarge(size, LIMITS.maxFileBytes));
  let bytes;
  try {
    bytes = new Uint8Array(await file.arrayBuffer());
  } catch (error) {
    // Beyond what a tab can allocate, or a file that went away while it was read.
    if (error instanceof RangeError) return refuse(m.tooLargeForBrowser(size));
    return refuse(m.unreadable("het bestand kan niet worden geopend of gelezen."));
  }
  state.sha256 = await sha256Hex(bytes);
  let read;
  try {
    const kind = sniff(bytes.subarray(0, SNIFF_BYTES));
    if (kind === "zip") {
      state.format = "zip";
      read = await readContainer(bytes, plan, state);
    } else {
      state.format = "csv";
      read = await readCsvFile(bytes, name, plan, state);
    }
  } catch (error) {
    if (error instanceof m.ReadError) return refuse(error);
    // A text or array larger than the browser can allocate.
    if (error instanceof RangeError) return refuse(m.tooLargeForBrowser(size));
    throw error;
  }
  const messages = read.warnings.map((w) =>
    fileMessage(w.code, { table: multi ? w.table : null, text: w.message }),
  );
  const checked = fileStructureMessages(plan, read.tables, messages);
  return {
    file: info(read.encoding),
    tables: checked.refused ? [] : read.tables,
    fileMessages: messages,
    refused: checked.refused,
    records: checked.records,
  };
}
