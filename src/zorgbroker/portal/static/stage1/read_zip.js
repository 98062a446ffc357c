// ZIP containers (uploaded archives and XLSX workbooks alike), as readers/archive.py treats
// them: the central directory is checked before a member is unpacked (member count, sizes,
// ratios, encryption, path tricks, nested archives: BF-007), and a member that unpacks to more
// than it declared, or whose checksum is wrong, is refused. Unpacking is the browser's own
// DecompressionStream("deflate-raw"): no library needed.

import * as m from "./read_messages.js";

export const MAX_ARCHIVE_MEMBERS = 1000;
export const MAX_WORKBOOK_MEMBERS = 10000;
const RATIO_FLOOR_BYTES = 1024 * 1024;
const NESTED_ARCHIVE = /\.(zip|xlsx|xlsm|xlsb|xls|ods|gz|tgz|tar|7z|rar|bz2|xz|zst|jar|cab)$/i;
const LITTER = new Set(["thumbs.db", "desktop.ini", ".ds_store"]);
const DAMAGED = "het ZIP-archief is beschadigd of onvolledig.";

export function damaged(table = null) {
  return m.unreadable(DAMAGED, table);
}

function u16(b, at) {
  return b[at] | (b[at + 1] << 8);
}
function u32(b, at) {
  return (b[at] | (b[at + 1] << 8) | (b[at + 2] << 16) | (b[at + 3] << 24)) >>> 0;
}
function u64(b, at) {
  return u32(b, at) + u32(b, at + 4) * 2 ** 32;
}

function findEnd(bytes) {
  const floor = Math.max(0, bytes.length - (22 + 0xffff));
  for (let at = bytes.length - 22; at >= floor; at--) {
    if (bytes[at] === 0x50 && bytes[at + 1] === 0x4b && bytes[at + 2] === 5 && bytes[at + 3] === 6) {
      return at;
    }
  }
  return -1;
}

// The members of an archive from its central directory, or a ReadError.
export function openArchive(bytes, maxMembers) {
  const end = findEnd(bytes);
  if (end < 0) throw damaged();
  let entries = u16(bytes, end + 10);
  let dirSize = u32(bytes, end + 12);
  let dirOffset = u32(bytes, end + 16);
  if (entries === 0xffff || dirOffset === 0xffffffff) {
    const loc = end - 20;
    if (loc < 0 || u32(bytes, loc) !== 0x07064b50) throw damaged();
    const rec = u64(bytes, loc + 8);
    if (rec + 56 > bytes.length || u32(bytes, rec) !== 0x06064b50) throw damaged();
    entries = u64(bytes, rec + 32);
    dirSize = u64(bytes, rec + 40);
    dirOffset = u64(bytes, rec + 48);
  }
  if (entries > maxMembers) {
    throw m.unsafeArchive(
      `het archief bevat ${entries} bestanden, meer dan de ${maxMembers} toegestaan.`,
    );
  }
  // An archive with something before it (a self-extractor) shifts every offset alike.
  const shift = end - dirSize - dirOffset;
  if (shift < 0 || dirOffset + shift + dirSize > bytes.length) throw damaged();
  const members = [];
  let at = dirOffset + shift;
  const utf8 = new TextDecoder("utf-8");
  const cp437 = new TextDecoder("ibm866"); // close enough for a name shown nowhere but BW-001
  for (let k = 0; k < entries; k++) {
    if (at + 46 > bytes.length || u32(bytes, at) !== 0x02014b50) throw damaged();
    const flags = u16(bytes, at + 8);
    const method = u16(bytes, at + 10);
    const crc = u32(bytes, at + 16);
    let compressed = u32(bytes, at + 20);
    let size = u32(bytes, at + 24);
    const nameLength = u16(bytes, at + 28);
    const extraLength = u16(bytes, at + 30);
    const commentLength = u16(bytes, at + 32);
    const external = u32(bytes, at + 38);
    let offset = u32(bytes, at + 42);
    const rawName = bytes.subarray(at + 46, at + 46 + nameLength);
    const name = (flags & 0x800 ? utf8 : cp437).decode(rawName);
    // ZIP64: the sizes and offset that did not fit are in the extra field, in this order.
    let extra = at + 46 + nameLength;
    const extraEnd = extra + extraLength;
    while (extra + 4 <= extraEnd) {
      const id = u16(bytes, extra);
      const length = u16(bytes, extra + 2);
      if (id === 1) {
        let p = extra + 4;
        if (size === 0xffffffff) (size = u64(bytes, p)), (p += 8);
        if (compressed === 0xffffffff) (compressed = u64(bytes, p)), (p += 8);
        if (offset === 0xffffffff) offset = u64(bytes, p);
      }
      extra += 4 + length;
    }
    members.push({
      name,
      flags,
      method,
      crc,
      compressed,
      size,
      external,
      offset: offset + shift,
      isDir: name.endsWith("/"),
    });
    at = extraEnd + commentLength;
  }
  return members;
}

function escapes(name) {
  const path = name.replaceAll("\\", "/");
  return path.startsWith("/") || /^[A-Za-z]:/.test(path) || path.split("/").includes("..");
}

export function checkContainer(members, { maxMembers, allowNested, maxUnpacked, maxRatio }) {
  if (members.length > maxMembers) {
    throw m.unsafeArchive(
      `het archief bevat ${members.length} bestanden, meer dan de ${maxMembers} toegestaan.`,
    );
  }
  const seen = new Set();
  let total = 0;
  for (const member of members) {
    const name = member.name;
    if (!name) throw damaged();
    if (member.flags & 1) throw m.unsafeArchive("het archief bevat versleutelde bestanden.");
    if (escapes(name)) {
      throw m.unsafeArchive("een bestandsnaam in het archief wijst buiten het archief.");
    }
    if (((member.external >>> 16) & 0o170000) === 0o120000) {
      throw m.unsafeArchive("het archief bevat een snelkoppeling (symlink).");
    }
    if (seen.has(name)) {
      throw m.unsafeArchive("het archief bevat twee bestanden met dezelfde naam.");
    }
    seen.add(name);
    if (!allowNested && NESTED_ARCHIVE.test(name)) {
      throw m.unsafeArchive("het archief bevat een ander archief of werkmap.");
    }
    if (member.size > RATIO_FLOOR_BYTES && member.size > maxRatio * Math.max(member.compressed, 1)) {
      throw m.unsafeArchive(
        "een bestand in het archief is verdacht sterk gecomprimeerd (meer dan " +
          `${maxRatio} keer); mogelijk een zip-bom.`,
      );
    }
    total += member.size;
  }
  if (total > maxUnpacked) {
    throw m.unsafeArchive(
      `uitgepakt zou het archief ${Math.round(total / 1024 ** 2)} MB zijn, meer dan de ` +
        `${Math.round(maxUnpacked / 1024 ** 2)} MB toegestaan.`,
    );
  }
}

// The member's file name without folders, or null for folders and operating-system litter.
export function baseName(member) {
  if (member.isDir) return null;
  const parts = member.name.replaceAll("\\", "/").split("/");
  const name = parts[parts.length - 1];
  if (!name || parts.includes("__MACOSX") || name.startsWith(".") || LITTER.has(name.toLowerCase())) {
    return null;
  }
  return name;
}

let crcTable = null;
function crc32(data) {
  if (crcTable === null) {
    crcTable = new Uint32Array(256);
    for (let n = 0; n < 256; n++) {
      let c = n;
      for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
      crcTable[n] = c >>> 0;
    }
  }
  let crc = 0xffffffff;
  for (let i = 0; i < data.length; i++) crc = crcTable[(crc ^ data[i]) & 0xff] ^ (crc >>> 8);
  return (crc ^ 0xffffffff) >>> 0;
}

// A member's unpacked bytes, stopped as soon as they exceed what the archive declared.
export async function memberBytes(bytes, member, table = null) {
  const at = member.offset;
  if (at + 30 > bytes.length || u32(bytes, at) !== 0x04034b50) throw damaged(table);
  const start = at + 30 + u16(bytes, at + 26) + u16(bytes, at + 28);
  const raw = bytes.subarray(start, start + member.compressed);
  if (raw.length !== member.compressed) throw damaged(table);
  let data;
  if (member.method === 0) {
    data = raw;
  } else if (member.method === 8) {
    data = await inflate(raw, member.size, table);
  } else {
    throw m.unknownFormat(
      "het archief gebruikt een compressiemethode die niet wordt ondersteund; " +
        "gebruik gewone ZIP-compressie (deflate).",
    );
  }
  if (data.length !== member.size || crc32(data) !== member.crc) {
    if (data.length > member.size) {
      throw m.unsafeArchive("een bestand in het archief pakt groter uit dan het archief opgeeft.");
    }
    throw damaged(table);
  }
  return data;
}

async function inflate(raw, declared, table) {
  const stream = new Blob([raw]).stream().pipeThrough(new DecompressionStream("deflate-raw"));
  const reader = stream.getReader();
  const chunks = [];
  let count = 0;
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      count += value.length;
      if (count > declared) {
        reader.cancel().catch(() => {});
        throw m.unsafeArchive(
          "een bestand in het archief pakt groter uit dan het archief opgeeft.",
        );
      }
      chunks.push(value);
    }
  } catch (error) {
    if (error instanceof m.ReadError) throw error;
    throw damaged(table);
  }
  const out = new Uint8Array(count);
  let p = 0;
  for (const chunk of chunks) {
    out.set(chunk, p);
    p += chunk.length;
  }
  return out;
}
