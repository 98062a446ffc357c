// The Dutch texts of the readers' refusals and warnings, word for word those of
// zorgbroker/intake/readers/messages.py: the registry's report must not tell whether the
// browser or Python read the export. Messages name files, tables, rows and column positions,
// never cell content.

export class ReadError extends Error {
  constructor(code, message, table = null) {
    super(message);
    this.code = code;
    this.table = table;
  }
}

const SAFE_NAME = /^[\p{L}\p{N}_ .()\-]{1,80}$/u;
const DIGIT_RUN = /\d{5,}|\d{1,4}[-_.]\d{1,2}[-_.]\d{2,4}/;

export function shownName(name) {
  if (SAFE_NAME.test(name) && !DIGIT_RUN.test(name)) return `'${name}'`;
  return "(naam niet getoond)";
}

function where(table) {
  return table !== null && table !== undefined && table !== "main" ? ` in tabel '${table}'` : "";
}

export function unreadable(detail, table = null) {
  return new ReadError("BF-001", `Bestand is onleesbaar${where(table)}: ${detail}`, table);
}

export function unknownFormat(detail) {
  return new ReadError("BF-002", `Onbekend bestandsformaat: ${detail}`);
}

export function noData(table = null) {
  return new ReadError(
    "BF-005",
    `Bestand bevat geen gegevens${where(table)}: het is leeg of heeft alleen een kopregel.`,
    table,
  );
}

function megabytes(size) {
  return `${(size / 1024 ** 2).toFixed(1)} MB`.replace(".", ",");
}

export function tooLarge(size, limit) {
  return new ReadError(
    "BF-006",
    `Bestand is groter dan toegestaan: ${megabytes(size)} terwijl het maximum ${megabytes(limit)} is.`,
  );
}

// A whole number with points between the thousands, as Dutch writes it (as Python's _grouped).
function grouped(number) {
  return String(number).replace(/\B(?=(\d{3})+(?!\d))/g, ".");
}

// No Python counterpart: a browser tab cannot hold a text of more than about half a billion
// characters, which Python reads in batches. The command line can send such a file.
export function tooLargeForBrowser(size) {
  return new ReadError(
    "BF-006",
    `Bestand is groter dan toegestaan: ${megabytes(size)} is te groot om in de browser te ` +
      "lezen; lever het aan met zorgbroker submit, of in delen.",
  );
}

export function sheetTooLarge(cells, limit) {
  // Word for word as Python's sheet_too_large.
  return new ReadError(
    "BF-006",
    `Bestand is groter dan toegestaan: een werkblad beslaat ${grouped(cells)} cellen (van A1 tot ` +
      `de laatste gevulde cel), het maximum is ${grouped(limit)}.`,
  );
}

export function unsafeArchive(detail) {
  return new ReadError("BF-007", `Archief is onveilig of pakt te groot uit: ${detail}`);
}

export function wrongLayout(expected, found, dataset) {
  const who = dataset || "deze dataset";
  return new ReadError(
    "BF-004",
    `Bestand hoort niet bij deze dataset: ${who} verwacht ${expected}; ${found}.`,
  );
}

export function duplicateColumns(first, second, exact, table = null) {
  const alike = exact ? "" : " (hoofdletters en spaties eromheen tellen niet mee)";
  return new ReadError(
    "BF-008",
    `Kolomnaam komt meer dan eens voor${where(table)}: ` +
      `kolom ${first} en kolom ${second} hebben dezelfde naam${alike}.`,
    table,
  );
}

export function mixedEncoding(table = null, row = null) {
  const place = row !== null ? ` (gezien bij rij ${row})` : "";
  return new ReadError(
    "BF-009",
    `Tekenset van het bestand is gemengd${where(table)}${place}: het bevat zowel UTF-8 als ` +
      "tekens die geen UTF-8 zijn. Sla het bestand opnieuw op als CSV UTF-8.",
    table,
  );
}

// Warnings: {code, message, table}.
export function extraMember(name, kind = "bestand in het archief") {
  return {
    code: "BW-001",
    message: `Extra ${kind} genegeerd: ${shownName(name)} hoort niet bij deze dataset.`,
    table: null,
  };
}

export function notUtf8(table = null) {
  return {
    code: "BW-002",
    message: `Tekenset is niet UTF-8 (gelezen als Windows-1252)${where(table)}.`,
    table,
  };
}

export function formulasIgnored() {
  return {
    code: "BW-004",
    message: "Formules in het werkblad genegeerd; opgeslagen waarden gebruikt.",
    table: null,
  };
}

export function formulasWithoutValues() {
  return {
    code: "BW-004",
    message:
      "Formules in het werkblad hebben geen opgeslagen uitkomst; die cellen zijn als leeg " +
      "gelezen. Open de werkmap in Excel en sla haar op (dan worden de uitkomsten bewaard), " +
      "of lever de waarden aan in plaats van formules.",
    table: null,
  };
}
