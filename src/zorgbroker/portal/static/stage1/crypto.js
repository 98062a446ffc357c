// The method's cryptography in the browser, as pseudonymisation/{bsn,source,method,sealing}.py
// compute it (docs/pseudonymisation.md, sections 1 and 3.1). The shared test vectors
// (pseudonymisation/vectors/stage1-vectors.json) hold both implementations to the same answers.
//
// HMAC-SHA256 comes from @noble/hashes rather than WebCrypto: WebCrypto answers every HMAC with a
// promise, and a hundred thousand promises cost more than the hashing. X25519 and HKDF are
// WebCrypto's; AES-SIV (RFC 5297), which WebCrypto lacks, is @noble/ciphers' `aessiv`.

import { _SHA256, sha256 } from "../vendor/noble-hashes/sha2.js";
import { hmac } from "../vendor/noble-hashes/hmac.js";
import { unsafe as aes } from "../vendor/noble-ciphers/aes.js";

// Rust's (and so Polars') `\s`: the Unicode White_Space property. JavaScript's `\s` differs in
// two characters (it adds U+FEFF and lacks U+0085), which would change a pseudonym.
export const WS =
  "\\t\\n\\v\\f\\r \\u0085\\u00a0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000";
const BSN_SEPARATORS = new RegExp(`[${WS}.\\-]`, "g");
const SPACES = new RegExp(`[${WS}]+`, "g");
const EDGES = new RegExp(`^[${WS}]+|[${WS}]+$`, "g");
const WEIGHTS = [9, 8, 7, 6, 5, 4, 3, 2, -1];
const ENCODER = new TextEncoder();

export const SEAL_PREFIX = "zb1s";

/** White space and the usual separators removed; eight digits get their lost leading zero. */
export function compactBsn(value) {
  const compact = value.replace(BSN_SEPARATORS, "");
  return /^[0-9]{8}$/.test(compact) ? "0" + compact : compact;
}

/** Nine digits, not all zeros, whose weighted sum is divisible by eleven. */
export function passesElevenTest(compact) {
  if (!/^[0-9]{9}$/.test(compact) || compact === "000000000") return false;
  let total = 0;
  for (let i = 0; i < 9; i++) total += (compact.charCodeAt(i) - 48) * WEIGHTS[i];
  return total % 11 === 0;
}

/** The normalised nine-digit BSN, or null for a missing value or one that fails the test. */
export function normaliseBsn(value) {
  if (value === null || value === undefined) return null;
  const compact = compactBsn(value);
  return passesElevenTest(compact) ? compact : null;
}

/** Identifying free text (a surname): white space collapsed, trimmed, lower case; empty is null. */
export function normaliseText(value) {
  if (value === null || value === undefined) return null;
  const text = value.replace(SPACES, " ").replace(EDGES, "").toLowerCase();
  return text === "" ? null : text;
}

const HEX = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, "0"));

export function toHex(bytes) {
  let out = "";
  for (let i = 0; i < bytes.length; i++) out += HEX[bytes[i]];
  return out;
}

export function fromHex(text) {
  const out = new Uint8Array(text.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(text.substr(i * 2, 2), 16);
  return out;
}

export function toBase64(bytes) {
  let text = "";
  for (let i = 0; i < bytes.length; i += 0x8000) {
    text += String.fromCharCode.apply(null, bytes.subarray(i, i + 0x8000));
  }
  return btoa(text);
}

export function fromBase64(text) {
  return Uint8Array.from(atob(text), (c) => c.charCodeAt(0));
}

// SHA-256's round constants (FIPS 180-4), for the compression function below.
const K256 = Int32Array.from([
  0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
  0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
  0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
  0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
  0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
  0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
  0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
  0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
]);
const W256 = new Int32Array(64);

/** One SHA-256 compression of the 64-byte block at `offset` of `view` into `state` (8 words). */
function compress(state, view, offset) {
  const w = W256;
  for (let i = 0; i < 16; i++) w[i] = view.getInt32(offset + i * 4, false);
  for (let i = 16; i < 64; i++) {
    const x = w[i - 15];
    const y = w[i - 2];
    const s0 = ((x >>> 7) | (x << 25)) ^ ((x >>> 18) | (x << 14)) ^ (x >>> 3);
    const s1 = ((y >>> 17) | (y << 15)) ^ ((y >>> 19) | (y << 13)) ^ (y >>> 10);
    w[i] = (s1 + w[i - 7] + s0 + w[i - 16]) | 0;
  }
  let a = state[0], b = state[1], c = state[2], d = state[3];
  let e = state[4], f = state[5], g = state[6], h = state[7];
  for (let i = 0; i < 64; i++) {
    const S1 = ((e >>> 6) | (e << 26)) ^ ((e >>> 11) | (e << 21)) ^ ((e >>> 25) | (e << 7));
    const t1 = (h + S1 + ((e & f) ^ (~e & g)) + K256[i] + w[i]) | 0;
    const S0 = ((a >>> 2) | (a << 30)) ^ ((a >>> 13) | (a << 19)) ^ ((a >>> 22) | (a << 10));
    const t2 = (S0 + ((a & b) ^ (a & c) ^ (b & c))) | 0;
    h = g;
    g = f;
    f = e;
    e = (d + t1) | 0;
    d = c;
    c = b;
    b = a;
    a = (t1 + t2) | 0;
  }
  state[0] = (state[0] + a) | 0;
  state[1] = (state[1] + b) | 0;
  state[2] = (state[2] + c) | 0;
  state[3] = (state[3] + d) | 0;
  state[4] = (state[4] + e) | 0;
  state[5] = (state[5] + f) | 0;
  state[6] = (state[6] + g) | 0;
  state[7] = (state[7] + h) | 0;
}

// Four hex digits per 16-bit half-word: a digest's hex is sixteen look-ups.
let HEX4 = null;

function stateHex(state) {
  if (HEX4 === null) {
    HEX4 = Array.from({ length: 65536 }, (_, i) => i.toString(16).padStart(4, "0"));
  }
  let out = "";
  for (let i = 0; i < 8; i++) out += HEX4[state[i] >>> 16] + HEX4[state[i] & 0xffff];
  return out;
}

/**
 * Stage 1 for one label: P1 = HMAC-SHA256(K_source, UTF-8(label + "|" + value)) of normalised
 * values. The states after the key's inner and outer padded blocks are computed once (with
 * @noble/hashes); each value then costs the compression of its own padded block(s) and of one
 * outer block, with no object made per value: noble's HMAC, cloned per value, took ten times as
 * long, and a hundred thousand rows are hashed here on the user's machine. The shared test
 * vectors check it against Python, and a browser test against noble's `hmac` on random input.
 */
export function stage1Hasher(key, label) {
  if (!/^[a-z0-9_-]+$/.test(label)) throw new Error(`Ongeldig label ${label} voor stap 1.`);
  const padded = new Uint8Array(64);
  padded.set(key.length > 64 ? sha256(key) : key);
  const stateAfter = (mask) => {
    const h = new _SHA256();
    h.process(new DataView(padded.map((b) => b ^ mask).buffer), 0);
    return Int32Array.from(h.get());
  };
  const inner = stateAfter(0x36);
  const outer = stateAfter(0x5c);
  const state = new Int32Array(8);
  const prefix = ENCODER.encode(label + "|");
  let buffer = new Uint8Array(128);
  let view = new DataView(buffer.buffer);
  const outerBlock = new Uint8Array(64);
  const outerView = new DataView(outerBlock.buffer);
  outerBlock[32] = 0x80;
  outerView.setUint32(60, (64 + 32) * 8, false);

  /** P1 of `value` into `state`: eight 32-bit words, big-endian order. */
  function digest(value) {
    // UTF-8 takes at most three bytes per UTF-16 unit; prefix and padding fit in 128 more.
    const room = prefix.length + value.length * 3 + 128;
    if (buffer.length < room) {
      buffer = new Uint8Array(room);
      view = new DataView(buffer.buffer);
    }
    buffer.set(prefix);
    const written = ENCODER.encodeInto(value, buffer.subarray(prefix.length)).written;
    const length = prefix.length + written;
    const end = Math.ceil((length + 9) / 64) * 64;
    buffer[length] = 0x80;
    buffer.fill(0, length + 1, end - 4);
    // The message follows the 64-byte key block: its length in bits counts that block too.
    view.setUint32(end - 4, (64 + length) * 8, false);
    state.set(inner);
    for (let at = 0; at < end; at += 64) compress(state, view, at);
    for (let i = 0; i < 8; i++) outerView.setInt32(i * 4, state[i], false);
    state.set(outer);
    compress(state, outerView, 0);
  }

  return {
    /** P1 of a normalised value as 64 lowercase hex digits. */
    hex(value) {
      digest(value);
      return stateHex(state);
    },
    /** P1 as hex and as its 32 bytes (what sealing binds a BSN to). */
    hexAndBytes(value) {
      digest(value);
      const out = new Uint8Array(32);
      const v = new DataView(out.buffer);
      for (let i = 0; i < 8; i++) v.setInt32(i * 4, state[i], false);
      return { hex: stateHex(state), bytes: out };
    },
    /** The 32 bytes of P1 of a normalised value. */
    bytes(value) {
      digest(value);
      const out = new Uint8Array(32);
      const v = new DataView(out.buffer);
      for (let i = 0; i < 8; i++) v.setInt32(i * 4, state[i], false);
      return out;
    },
  };
}

/** HMAC(K, "fingerprint"), 16 hex digits: tells keys apart in reports, reveals nothing. */
export function fingerprint(key) {
  return toHex(hmac(sha256, key, ENCODER.encode("fingerprint"))).slice(0, 16);
}

// PKCS #8 wrapping of a raw X25519 private key (RFC 8410): WebCrypto imports no raw private key.
const X25519_PKCS8_PREFIX = fromHex("302e020100300506032b656e04220420");

async function ephemeralKeyPair(fixedPrivate) {
  if (fixedPrivate) {
    const pkcs8 = new Uint8Array(48);
    pkcs8.set(X25519_PKCS8_PREFIX);
    pkcs8.set(fixedPrivate, 16);
    const privateKey = await crypto.subtle.importKey("pkcs8", pkcs8, { name: "X25519" }, true, [
      "deriveBits",
    ]);
    // The public half comes out of the JWK export of the private key ("x").
    const jwk = await crypto.subtle.exportKey("jwk", privateKey);
    const x = jwk.x.replace(/-/g, "+").replace(/_/g, "/");
    return { privateKey, publicBytes: fromBase64(x + "=".repeat((4 - (x.length % 4)) % 4)) };
  }
  const pair = await crypto.subtle.generateKey({ name: "X25519" }, true, ["deriveBits"]);
  const publicBytes = new Uint8Array(await crypto.subtle.exportKey("raw", pair.publicKey));
  return { privateKey: pair.privateKey, publicBytes };
}

/**
 * A sealer for one upload, as sealing.seal_bsns: an ephemeral X25519 key pair agreed with the
 * TTP's public key, HKDF-SHA256 (no salt, info "zb1 seal|" registry "|" eph_pub ttp_pub) to a
 * 512-bit AES-SIV key; each BSN sealed with associated data [registry, P1 bytes].
 * `fixedPrivate` (32 bytes) is for the published test vector only.
 */
export async function makeSealer(ttpPublicKey, registry, fixedPrivate = null) {
  const { privateKey, publicBytes } = await ephemeralKeyPair(fixedPrivate);
  const x25519 = { name: "X25519" };
  const recipient = await crypto.subtle.importKey("raw", ttpPublicKey, x25519, false, []);
  const agreed = { name: "X25519", public: recipient };
  const shared = await crypto.subtle.deriveBits(agreed, privateKey, 256);
  const registryBytes = ENCODER.encode(registry);
  const info = concat([ENCODER.encode(`zb1 seal|${registry}|`), publicBytes, ttpPublicKey]);
  const ikm = await crypto.subtle.importKey("raw", shared, "HKDF", false, ["deriveBits"]);
  const key = new Uint8Array(
    await crypto.subtle.deriveBits(
      { name: "HKDF", hash: "SHA-256", salt: new Uint8Array(0), info },
      ikm,
      512,
    ),
  );
  const prefix = `${SEAL_PREFIX}.${toBase64(publicBytes)}.`;
  const siv = sivWithAssociated(key, [registryBytes]);
  const digits = new Uint8Array(9);
  return {
    /** `zb1s.<b64 eph pub>.<b64 AES-SIV(BSN, ad=[registry, P1])>` of a normalised BSN. */
    seal(bsn, p1Bytes) {
      // A normalised BSN is nine ASCII digits: its UTF-8 is its character codes.
      if (bsn.length !== 9) throw new Error("Alleen een genormaliseerd BSN wordt verzegeld.");
      for (let i = 0; i < 9; i++) digits[i] = bsn.charCodeAt(i);
      return prefix + fastBase64(siv.encrypt(digits, p1Bytes));
    },
  };
}

const B64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
// Two base64 digits per 12 bits: three bytes are two look-ups.
let B64_PAIRS = null;

/** Standard base64 (with padding) of a short byte string, as Python's b64encode writes it. */
export function fastBase64(bytes) {
  if (B64_PAIRS === null) {
    B64_PAIRS = Array.from({ length: 4096 }, (_, i) => B64[i >> 6] + B64[i & 63]);
  }
  let out = "";
  let i = 0;
  for (; i + 3 <= bytes.length; i += 3) {
    const n = (bytes[i] << 16) | (bytes[i + 1] << 8) | bytes[i + 2];
    out += B64_PAIRS[n >> 12] + B64_PAIRS[n & 4095];
  }
  const left = bytes.length - i;
  if (left === 1) {
    const n = bytes[i] << 16;
    out += B64_PAIRS[n >> 12] + "==";
  } else if (left === 2) {
    const n = (bytes[i] << 16) | (bytes[i + 1] << 8);
    out += B64_PAIRS[n >> 12] + B64[(n >> 6) & 63] + "=";
  }
  return out;
}

// --- AES-SIV (RFC 5297) for many messages under one key ------------------------------------------
//
// @noble/ciphers' `aessiv(key, ...ad)` expands both AES keys and recomputes the CMAC of every
// associated-data component for each message: 90 microseconds a BSN, nine seconds for a hundred
// thousand. The same function is computed here from noble's AES block (its `unsafe` export):
// the keys expanded once, the CMAC subkeys and the S2V state over the fixed components computed
// once, so a BSN costs four AES blocks. The browser tests compare it with noble's `aessiv` on
// random keys, messages and associated data, and with RFC 5297's vector.

/** `out` = dbl(`block`) in GF(2^128) (`out` may be `block`). */
function dblInto(block, out) {
  const carry = block[0] & 0x80;
  for (let i = 0; i < 15; i++) out[i] = ((block[i] << 1) | (block[i + 1] >>> 7)) & 0xff;
  out[15] = ((block[15] << 1) & 0xff) ^ (carry ? 0x87 : 0);
  return out;
}

function xorInto(target, source, at = 0) {
  for (let i = 0; i < source.length; i++) target[at + i] ^= source[i];
  return target;
}

/**
 * AES-SIV with a 32-, 48- or 64-byte key whose first associated-data components are `fixed`
 * (the same for every message); `encrypt(plain, ...more)` takes the remaining components.
 * Scratch blocks are reused between calls: one encryptor is used by one loop at a time.
 */
export function sivWithAssociated(key, fixed) {
  if (![32, 48, 64].includes(key.length)) throw new Error("AES-SIV key must be 32, 48 or 64 bytes");
  const half = key.length / 2;
  const macKey = aes.expandKeyLE(key.slice(0, half));
  const ctrKey = aes.expandKeyLE(key.slice(half));
  const k1 = dblInto(aes.encryptBlock(macKey, new Uint8Array(16)), new Uint8Array(16));
  const k2 = dblInto(k1, new Uint8Array(16));
  const mac = new Uint8Array(16);
  const d = new Uint8Array(16);
  const counter = new Uint8Array(16);
  let tail = new Uint8Array(64);

  /** CMAC(macKey, message) into `out` (16 bytes). */
  function cmacInto(message, out) {
    out.fill(0);
    const full = Math.max(0, Math.ceil(message.length / 16) - 1);
    for (let i = 0; i < full; i++) {
      xorInto(out, message.subarray(i * 16, i * 16 + 16));
      aes.encryptBlock(macKey, out);
    }
    const last = message.subarray(full * 16);
    xorInto(out, last);
    if (last.length === 16 && message.length > 0) {
      xorInto(out, k1);
    } else {
      out[last.length] ^= 0x80;
      xorInto(out, k2);
    }
    return aes.encryptBlock(macKey, out);
  }

  const start = cmacInto(new Uint8Array(16), new Uint8Array(16));
  for (const component of fixed) xorInto(dblInto(start, start), cmacInto(component, mac));

  /** S2V of the fixed components, `more` and `plain`, into a new 16-byte array. */
  function s2v(more, plain) {
    d.set(start);
    for (const component of more) xorInto(dblInto(d, d), cmacInto(component, mac));
    const out = new Uint8Array(16);
    if (plain.length >= 16) {
      if (tail.length < plain.length) tail = new Uint8Array(plain.length);
      const last = tail.subarray(0, plain.length);
      last.set(plain);
      xorInto(last, d, plain.length - 16);
      return cmacInto(last, out);
    }
    dblInto(d, d);
    xorInto(d, plain);
    d[plain.length] ^= 0x80;
    return cmacInto(d, out);
  }

  return {
    encrypt(plain, ...more) {
      const iv = s2v(more, plain);
      const out = new Uint8Array(16 + plain.length);
      out.set(iv);
      const stream = mac;
      counter.set(iv);
      counter[8] &= 0x7f;
      counter[12] &= 0x7f;
      for (let at = 0; at < plain.length; at += 16) {
        stream.set(counter);
        aes.encryptBlock(ctrKey, stream);
        const end = Math.min(16, plain.length - at);
        for (let i = 0; i < end; i++) out[16 + at + i] = plain[at + i] ^ stream[i];
        for (let i = 15; i >= 0; i--) {
          counter[i] = (counter[i] + 1) & 0xff;
          if (counter[i] !== 0) break;
        }
      }
      return out;
    },
  };
}

function concat(parts) {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const part of parts) {
    out.set(part, at);
    at += part.length;
  }
  return out;
}

/** A throw-away source key for a test upload: never stored, never sent. */
export function throwAwayKey() {
  return crypto.getRandomValues(new Uint8Array(32));
}
