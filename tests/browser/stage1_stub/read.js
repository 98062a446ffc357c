// A stand-in for read.js (engineer readjs) while it is being written: reads the generated
// exports only (UTF-8, ";", a ZIP of CSVs). tests/browser/static_site.py serves it only when
// the package has no read.js of its own.
import { unzipSync, strFromU8 } from "/static/vendor/fflate/browser.js";

function parseCsv(text) {
  const lines = text.replace(/\r\n/g, "\n").split("\n");
  while (lines.length && lines[lines.length - 1] === "") lines.pop();
  const [head, ...rows] = lines.map((line) => line.split(";"));
  return { header: head, rows };
}

export async function readExport(file, plan) {
  const bytes = new Uint8Array(await file.arrayBuffer());
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", bytes));
  const sha256 = Array.from(digest, (b) => b.toString(16).padStart(2, "0")).join("");
  const zip = bytes[0] === 0x50 && bytes[1] === 0x4b;
  const tables = [];
  if (zip) {
    const members = unzipSync(bytes);
    for (const t of plan.tables) {
      if (members[t.file]) tables.push({ name: t.name, member: t.file, ...parseCsv(strFromU8(members[t.file])) });
    }
  } else {
    tables.push({ name: "main", member: null, ...parseCsv(new TextDecoder().decode(bytes)) });
  }
  const main = tables.find((t) => t.name === (plan.tables.find((p) => p.main) || plan.tables[0]).name);
  return {
    file: { name: file.name, sha256, size: bytes.length, bytes: bytes.length, format: zip ? "zip" : "csv", encoding: zip ? null : "utf-8" },
    tables,
    fileMessages: [],
    refused: false,
    records: main ? main.rows.length : 0,
  };
}
