// The check's first steps on the tables read (checks/run.py, checks/structure.py,
// checks/repeated_rows.py and the strategies): missing tables, the header against the
// specification (forbidden columns, BF-003/BF-004 missing columns, BW-001 extra columns),
// repeated rows (BW-003), a table that must hold one row, and an export without records
// (BF-005). The messages are appended to `messages` in the report's order.

function chars(text, count) {
  return Array.from(text).slice(0, count).join("");
}

function message(code, table = null, field = null, value = null) {
  return { code, table, field, value, text: null };
}

// File column -> field name, as structure.match_header (case and surrounding space ignored).
export function specColumnNames(header, fieldNames) {
  const known = new Map(fieldNames.map((name) => [name.toLowerCase(), name]));
  const out = new Map();
  for (const column of header) {
    const key = column.trim().toLowerCase();
    if (known.has(key)) out.set(column, known.get(key));
  }
  return out;
}

function structureOf(table) {
  const given = table.source_checks?.structure ?? {};
  return {
    needsColumn: given.needs_column ?? [],
    forbiddenColumns: given.forbidden_columns ?? [],
    forbiddenCode: given.forbidden_code ?? null,
    rows: given.rows ?? null,
    rowsCode: given.rows_code ?? null,
    missingTableCode: given.missing_table_code ?? null,
  };
}

function headerMessages(header, table, messages, key) {
  const structure = structureOf(table);
  let ok = true;
  const patterns = structure.forbiddenColumns.map((rx) => new RegExp(`^(?:${rx})$`, "i"));
  const forbidden = header.filter((col) => patterns.some((rx) => rx.test(col.trim())));
  if (forbidden.length && structure.forbiddenCode) {
    for (const col of forbidden) messages.push(message(structure.forbiddenCode, key, null, chars(col, 100)));
    ok = false;
  }
  const mapping = specColumnNames(header, table.fields.map((f) => f.name));
  const known = new Set(mapping.values());
  const needed = structure.needsColumn;
  const missing = needed.filter((name) => !known.has(name));
  if (missing.length) {
    if (known.size < Math.max(1, Math.floor(needed.length / 2))) messages.push(message("BF-004", key));
    else for (const name of missing) messages.push(message("BF-003", key, name));
    ok = false;
  }
  const extra = header.filter((col) => !mapping.has(col) && !forbidden.includes(col));
  if (extra.length) {
    messages.push(message("BW-001", key, null, chars(extra.map((c) => chars(c, 60)).join(", "), 300)));
  }
  return ok;
}

function rowHash(row) {
  // FNV-1a over the cells and a separator after each: numbers, not a joined string per row.
  let h = 0x811c9dc5;
  for (const cell of row) {
    for (let i = 0; i < cell.length; i++) h = Math.imul(h ^ cell.charCodeAt(i), 0x01000193);
    h = Math.imul(h ^ 0xffff, 0x01000193);
  }
  return h >>> 0;
}

function sameRow(a, b) {
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

// Rows that have an identical twin (all cells of the file's row alike), as
// repeated_rows.report_repeated_rows counts them.
export function repeatedRows(rows) {
  const buckets = new Map();
  for (let r = 0; r < rows.length; r++) {
    const h = rowHash(rows[r]);
    const bucket = buckets.get(h);
    if (bucket === undefined) buckets.set(h, r);
    else if (typeof bucket === "number") buckets.set(h, [bucket, r]);
    else bucket.push(r);
  }
  let repeated = 0;
  for (const bucket of buckets.values()) {
    if (typeof bucket === "number") continue;
    // Within a bucket (hash collisions aside, one group of equal rows), count rows with a twin.
    const twin = new Array(bucket.length).fill(false);
    for (let i = 0; i < bucket.length; i++) {
      for (let j = i + 1; j < bucket.length; j++) {
        if (sameRow(rows[bucket[i]], rows[bucket[j]])) twin[i] = twin[j] = true;
      }
    }
    repeated += twin.filter(Boolean).length;
  }
  return repeated;
}

const isRefusal = (m) => m.code.startsWith("BF-");

// Appends the structure messages; returns {refused, records}.
export function fileStructureMessages(plan, tables, messages) {
  const multi = Boolean(plan.multi_table);
  const byName = new Map(tables.map((t) => [t.name, t]));
  const source = (table) => byName.get(multi ? table.name : "main");
  if (multi) {
    for (const table of plan.tables) {
      const code = structureOf(table).missingTableCode;
      if (!byName.has(table.name) && code) messages.push(message(code, table.name));
    }
  }
  let readable = !messages.some(isRefusal);
  for (const table of plan.tables) {
    const found = source(table);
    if (found !== undefined && readable) {
      readable = headerMessages(found.header, table, messages, multi ? table.name : null) && readable;
    }
  }
  if (!readable || messages.some(isRefusal)) return { refused: true, records: 0 };
  // The readers name a lone table "main"; from here on it goes by the specification's name.
  if (!multi && tables.length) tables[0].name = plan.tables[0].name;
  const main = plan.tables.find((t) => t.main) ?? plan.tables[0];
  for (const table of plan.tables) {
    const found = source(table);
    if (found === undefined || !found.rows.length) continue;
    const repeated = repeatedRows(found.rows);
    if (repeated) messages.push(message("BW-003", multi ? table.name : null, null, `${repeated} rijen`));
  }
  for (const table of plan.tables) {
    const found = source(table);
    const structure = structureOf(table);
    if (structure.rows === "one" && found !== undefined && found.rows.length !== 1) {
      messages.push(message(structure.rowsCode || "BF-005", multi ? table.name : null));
    }
  }
  const records = source(main)?.rows.length ?? 0;
  if (records === 0) {
    if (!messages.some(isRefusal)) messages.push(message("BF-005", multi ? main.name : null));
    return { refused: true, records: 0 };
  }
  return { refused: messages.some(isRefusal), records };
}
