// The browser's stage 1: an export becomes its stage-1 file on the user's machine, exactly as
// `zorgbroker pseudonymise` (pseudonymisation/source_file.py) writes it, so the portal never
// receives the raw file (docs/pseudonymisation.md, sections 8.1 and 8.7).
//
// Interfaces between the modules of this folder:
//
//   read.js (engineer readjs)
//     export async function readExport(file /* File */, plan)
//       -> { file: {name, sha256, size, format, encoding},
//            tables: [{name, member, header: string[], rows: string[][]}],
//            fileMessages: [{code, table, field, value, text}],   (the manifest's shape)
//            refused: boolean, records: number }
//   checks.js (engineer readjs)
//     export function sourceFindings(plan, table, {today, organisation, tables})
//       -> { findings: string[] /* per row, "field=code ..." or "" */, dateFormat: string }
//     export function parseDate(value, dateFormat) -> {year, month, day} | null
//   keywrap.js (engineer ttpkey)
//     export async function unwrapSourceKey(wrapped, password): Promise<Uint8Array>
//   stage1.js (this module)
//     export async function makeStage1(file, plan,
//         {mode /* "test" | "production" */, sourceKey /* Uint8Array | null */,
//          ttpPublicKey /* Uint8Array | null */, organisation, onProgress, today})
//       -> { blob /* application/zip */, fileName, summary }
//     `plan` is GET /aanleveren/plan/{dataset}.json (pseudonymisation/browser_plan.py).
//     Test mode: a throw-away key from crypto.getRandomValues, nothing sealed. Production:
//     `sourceKey` is the project's key (keywrap.js), and for a re-identifiable registry each
//     BSN is sealed for the TTP with `ttpPublicKey` (else the plan's `ttp_public_key`).
//     onProgress({phase: "lezen" | "pseudonimiseren" | "inpakken", rows, total, rowsPerSecond})
//     `useWorker` (default: more than two cores) deflates the ZIP in zip_worker.js beside the
//     page instead of on the page itself (zip_sink.js).

import { readExport } from "./read.js";
import { sourceFindings } from "./checks.js";
import {
  fingerprint,
  fromBase64,
  makeSealer,
  normaliseBsn,
  normaliseText,
  stage1Hasher,
  throwAwayKey,
} from "./crypto.js";
import { ageText, birthYear, postcode4 } from "./derive.js";
import { zipSink } from "./zip_sink.js";

/** Rows between two progress reports (and two chances for the page to repaint). */
const PROGRESS_EVERY = 10000;
const ENCODER = new TextEncoder();

function isoDay(date) {
  const pad = (n) => String(n).padStart(2, "0");
  return `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())}`;
}

// Polars' write_csv (quote style "necessary"): a value is quoted when it holds the separator,
// a quote or a line break; an empty value is a missing one.
const NEEDS_QUOTES = /[;"\n\r]/;

function csvCell(value) {
  if (value === null || value === undefined) return "";
  if (value === "") return '""';
  return NEEDS_QUOTES.test(value) ? `"${value.replace(/"/g, '""')}"` : value;
}

function csvLine(values) {
  let line = csvCell(values[0]);
  for (let i = 1; i < values.length; i++) line += ";" + csvCell(values[i]);
  return line + "\n";
}

/** The file's columns under the specification's names, as match_header pairs them. */
function columnIndexes(header, tablePlan) {
  const known = new Map(tablePlan.fields.map((f) => [f.name.toLowerCase(), f.name]));
  const out = new Map();
  header.forEach((column, index) => {
    const name = known.get(String(column).trim().toLowerCase());
    if (name !== undefined) out.set(name, index);
  });
  return out;
}

/**
 * One writer per column of the stage-1 CSV, in the plan's column order, for the columns whose
 * source is in the export: a function of (the row's cells, its index). A pseudonymised field
 * leaves its normalised value and P1 bytes in `context` for the sealed column after it.
 */
function columnWriters(tablePlan, plan, indexes, context) {
  const kinds = new Map(tablePlan.fields.map((f) => [f.name, f.identifying]));
  const ages = new Map(tablePlan.ages.map((a) => [a.column, a]));
  const writers = [];
  const cell = (index) => (row) => {
    const value = row[index];
    return value === "" ? null : value;
  };
  for (const column of tablePlan.columns) {
    if (column === plan.findings_column) {
      writers.push({ column, safe: true, value: (row, n) => context.findings[n] || null });
      continue;
    }
    if (ages.has(column)) {
      const { birth, event } = ages.get(column);
      if (!indexes.has(birth) || !indexes.has(event)) continue;
      const [b, e] = [cell(indexes.get(birth)), cell(indexes.get(event))];
      writers.push({ column, derived: true, safe: true, value: (row) => ageText(b(row), e(row)) });
      continue;
    }
    if (column.endsWith(plan.sealed_suffix) && !kinds.has(column)) {
      const field = column.slice(0, -plan.sealed_suffix.length);
      // Only the BSN is sealed (source_file.stage1_frame), and only when sealing at all.
      if (!context.sealer || field !== plan.bsn_label || !indexes.has(field)) continue;
      writers.push({
        column,
        derived: true,
        safe: true,
        value: () => {
          const p1 = context.p1[field];
          return p1 ? context.sealer.seal(context.normal[field], p1) : null;
        },
      });
      continue;
    }
    if (!indexes.has(column)) continue;
    const read = cell(indexes.get(column));
    const kind = kinds.get(column);
    if (kind === "pseudonymise") {
      const hasher = stage1Hasher(context.key, column);
      const isBsn = column === plan.bsn_label;
      // The BSN's P1 bytes are kept for its sealed value, which binds it to them.
      const sealing = Boolean(context.sealer) && isBsn;
      writers.push({
        column,
        safe: true,
        value: (row, n) => {
          const raw = read(row);
          const normal = isBsn ? normaliseBsn(raw) : normaliseText(raw);
          if (isBsn && raw !== null && normal === null) context.invalidBsnRows.push(n + 1);
          context.normal[column] = normal;
          context.p1[column] = null;
          if (normal === null) return null;
          if (!sealing) return hasher.hex(normal);
          const p1 = hasher.hexAndBytes(normal);
          context.p1[column] = p1.bytes;
          return p1.hex;
        },
      });
    } else if (kind === "year") {
      writers.push({ column, safe: true, value: (row) => birthYear(read(row)) });
    } else if (kind === "postcode4") {
      writers.push({ column, safe: true, value: (row) => postcode4(read(row)) });
    } else if (kind !== "drop") {
      writers.push({ column, value: read });
    }
  }
  return writers;
}

const nextFrame = () => new Promise((resolve) => setTimeout(resolve, 0));

/** The stage-1 CSV of one table into the archive's member, and what the manifest says of it. */
async function writeTable(table, tablePlan, plan, context, progress, sink) {
  const indexes = columnIndexes(table.header, tablePlan);
  const { findings, dateFormat } = sourceFindings(plan, table, context.checkOptions);
  const local = { ...context, findings, p1: {}, normal: {}, invalidBsnRows: [] };
  const writers = columnWriters(tablePlan, plan, indexes, local);
  const rows = table.rows;
  sink.member(tablePlan.member);
  if (rows.length === 0) {
    // Python writes the header of the fields the export has (no derived column) and findings.
    const header = writers.filter((w) => !w.derived).map((w) => w.column);
    if (!header.includes(plan.findings_column)) header.push(plan.findings_column);
    sink.write(ENCODER.encode(header.join(";") + "\n"));
    sink.close();
    return { rows: 0, dateFormat, local };
  }
  // Pseudonyms, years, ages, sealed values and findings never need quotes: only the export's
  // own text is looked at for a separator, quote or line break.
  const safe = writers.map((w) => Boolean(w.safe));
  const count = writers.length;
  let chunk = csvLine(writers.map((w) => w.column));
  for (let n = 0; n < rows.length; n++) {
    const row = rows[n];
    let line = "";
    for (let i = 0; i < count; i++) {
      const value = writers[i].value(row, n);
      const text = value === null || value === undefined ? "" : safe[i] ? value : csvCell(value);
      line += i === 0 ? text : ";" + text;
    }
    chunk += line + "\n";
    if ((n + 1) % PROGRESS_EVERY === 0) {
      sink.write(ENCODER.encode(chunk));
      chunk = "";
      await progress(PROGRESS_EVERY);
    }
  }
  sink.write(ENCODER.encode(chunk));
  sink.close();
  await progress(rows.length % PROGRESS_EVERY);
  return { rows: rows.length, dateFormat, local };
}

function manifestFor(plan, read, key, today) {
  const file = read.file;
  return {
    dataset: plan.dataset,
    dataset_version: plan.version,
    registry: plan.registry,
    method: plan.method,
    source_key_fingerprint: fingerprint(key),
    checked_on: isoDay(today),
    file: {
      name: file.name,
      sha256: file.sha256,
      bytes: file.bytes ?? file.size,
      format: file.format,
      encoding: file.encoding ?? null,
    },
    members: {},
    records: {},
    date_formats: {},
    file_messages: read.fileMessages.map((m) => ({
      code: m.code,
      table: m.table ?? null,
      field: m.field ?? null,
      value: m.value ?? null,
      text: m.text ?? null,
    })),
    refused: Boolean(read.refused),
    format: plan.manifest.format,
    format_version: plan.manifest.format_version,
  };
}

/** "export.csv" -> "export.stap1.zip": the name the stage-1 file is sent under. */
function stage1Name(name) {
  const stem = name.replace(/\.[^.]*$/, "") || "export";
  return `${stem}.stap1.zip`;
}

export async function makeStage1(
  file,
  plan,
  {
    mode,
    sourceKey = null,
    ttpPublicKey = null,
    organisation = null,
    onProgress = () => {},
    today = new Date(),
    // On two busy cores the worker won as often as it lost (docs/benchmarks.md); with more
    // cores it deflates on one of its own while the page goes on with the rows.
    useWorker = (navigator.hardwareConcurrency || 1) > 2,
  } = {},
) {
  if (mode !== "test" && mode !== "production") throw new Error(`Onbekende modus ${mode}.`);
  if (mode === "production" && !(sourceKey instanceof Uint8Array && sourceKey.length === 32)) {
    throw new Error("De sleutel van het project ontbreekt.");
  }
  const key = mode === "test" ? throwAwayKey() : sourceKey;
  onProgress({ phase: "lezen", rows: 0, total: 0, rowsPerSecond: 0 });
  const read = await readExport(file, plan);
  const manifest = manifestFor(plan, read, key, today);
  const summary = {
    mode,
    refused: manifest.refused,
    rows: {},
    invalidBsnRows: {},
    sourceKeyFingerprint: manifest.source_key_fingerprint,
    sealed: false,
  };
  const sink = zipSink({ useWorker });
  try {
    if (read.refused) {
      const main = plan.tables.find((t) => t.main) ?? plan.tables[0];
      manifest.records = { [main.name]: read.records };
    } else {
      let sealer = null;
      if (mode === "production" && plan.reidentifiable) {
        const fromPlan = plan.ttp_public_key ? fromBase64(plan.ttp_public_key) : null;
        const publicKey = ttpPublicKey ?? fromPlan;
        if (!publicKey) throw new Error("De publieke sleutel van de TTP ontbreekt.");
        sealer = await makeSealer(publicKey, plan.registry);
        summary.sealed = true;
      }
      const total = read.tables.reduce((n, t) => n + t.rows.length, 0);
      const started = performance.now();
      let done = 0;
      const progress = async (rows) => {
        done += rows;
        const seconds = (performance.now() - started) / 1000;
        onProgress({
          phase: "pseudonimiseren",
          rows: done,
          total,
          rowsPerSecond: seconds > 0 ? Math.round(done / seconds) : 0,
        });
        await nextFrame();
      };
      // What the source checks may read besides the table: the date, the uploader's AGB, and
      // the other tables (a rule that looks a field up in another table).
      const checkOptions = { today: isoDay(today), organisation, tables: read.tables };
      const context = { key, sealer, checkOptions };
      const byName = new Map(read.tables.map((t) => [t.name, t]));
      // In the specification's order, as source_file writes them.
      for (const tablePlan of plan.tables) {
        const table = byName.get(tablePlan.name);
        if (!table) continue;
        const written = await writeTable(table, tablePlan, plan, context, progress, sink);
        manifest.members[tablePlan.name] = tablePlan.member;
        manifest.records[tablePlan.name] = written.rows;
        manifest.date_formats[tablePlan.name] = written.dateFormat;
        summary.rows[tablePlan.name] = written.rows;
        summary.invalidBsnRows[tablePlan.name] = written.local.invalidBsnRows;
      }
    }
    onProgress({ phase: "inpakken", rows: 0, total: 0, rowsPerSecond: 0 });
    await nextFrame();
    sink.member(plan.manifest.name);
    sink.write(ENCODER.encode(JSON.stringify(manifest, null, 1)));
    sink.close();
  } catch (error) {
    sink.abort();
    throw error;
  }
  return {
    blob: await sink.end(),
    fileName: stage1Name(read.file.name || file.name),
    summary,
  };
}
