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
const WS = "\\t\\n\\v\\f\\r \\u0085\\u00a0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000";
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

/**
 * Stage 1 for one label: P1 = HMAC-SHA256(K_source, UTF-8(label + "|" + value)) of normalised
 * values. @noble/hashes' SHA-256 compression function is driven directly: the states after the
 * key's inner and outer padded blocks are computed once, and each value costs the compression
 * of its own padded block(s) and one outer block, without allocating a hash object per value
 * (a clone of noble's HMAC per value was ten times slower). The shared test vectors check it
 * against Python, and the browser tests against noble's own `hmac`.
 */
export function stage1Hasher(key, label) {
  if (!/^[a-z0-9_-]+$/.test(label)) throw new Error(`Ongeldig label ${label} voor stap 1.`);
  const sha = new _SHA256();
  const padded = new Uint8Array(64);
  padded.set(key.length > 64 ? sha256(key) : key);
  const stateAfter = (mask) => {
    const block = padded.map((b) => b ^ mask);
    const h = new _SHA256();
    h.process(new DataView(block.buffer), 0);
    return h.get();
  };
  const inner = stateAfter(0x36);
  const outer = stateAfter(0x5c);
  const prefix = ENCODER.encode(label + "|");
  let buffer = new Uint8Array(128);
  let view = new DataView(buffer.buffer);
  const outerBlock = new Uint8Array(64);
  const outerView = new DataView(outerBlock.buffer);
  outerBlock[32] = 0x80;
  outerView.setUint32(60, (64 + 32) * 8, false);

  /** The eight 32-bit words of P1 (in SHA-256's big-endian order), in `sha`'s state. */
  function digest(value) {
    // UTF-8 takes at most three bytes per UTF-16 unit; prefix and padding fit in 128 more.
    const room = prefix.length + value.length * 3 + 128;
    if (buffer.length < room) {
      buffer = new Uint8Array(room);
      view = new DataView(buffer.buffer);
    }
    buffer.set(prefix);
    const length = prefix.length + ENCODER.encodeInto(value, buffer.subarray(prefix.length)).written;
    const blocks = Math.ceil((length + 9) / 64);
    buffer[length] = 0x80;
    buffer.fill(0, length + 1, blocks * 64 - 4);
    // The message follows the 64-byte key block: its length in bits counts that block too.
    view.setUint32(blocks * 64 - 4, (64 + length) * 8, false);
    sha.set(inner[0], inner[1], inner[2], inner[3], inner[4], inner[5], inner[6], inner[7]);
    for (let at = 0; at < blocks * 64; at += 64) sha.process(view, at);
    const { A, B, C, D, E, F, G, H } = sha;
    outerView.setUint32(0, A, false);
    outerView.setUint32(4, B, false);
    outerView.setUint32(8, C, false);
    outerView.setUint32(12, D, false);
    outerView.setUint32(16, E, false);
    outerView.setUint32(20, F, false);
    outerView.setUint32(24, G, false);
    outerView.setUint32(28, H, false);
    sha.set(outer[0], outer[1], outer[2], outer[3], outer[4], outer[5], outer[6], outer[7]);
    sha.process(outerView, 0);
  }

  const word = (w) => (w >>> 0).toString(16).padStart(8, "0");
  return {
    /** P1 of a normalised value as 64 lowercase hex digits. */
    hex(value) {
      digest(value);
      const { A, B, C, D, E, F, G, H } = sha;
      return word(A) + word(B) + word(C) + word(D) + word(E) + word(F) + word(G) + word(H);
    },
    /** The 32 bytes of P1 of a normalised value. */
    bytes(value) {
      digest(value);
      const out = new Uint8Array(32);
      const v = new DataView(out.buffer);
      const { A, B, C, D, E, F, G, H } = sha;
      [A, B, C, D, E, F, G, H].forEach((w, i) => v.setUint32(i * 4, w, false));
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
  const recipient = await crypto.subtle.importKey("raw", ttpPublicKey, { name: "X25519" }, false, []);
  const shared = await crypto.subtle.deriveBits({ name: "X25519", public: recipient }, privateKey, 256);
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
  return {
    /** `zb1s.<b64 eph pub>.<b64 AES-SIV(BSN, ad=[registry, P1])>` of a normalised BSN. */
    seal(bsn, p1Bytes) {
      return prefix + toBase64(siv.encrypt(ENCODER.encode(bsn), p1Bytes));
    },
  };
}

// --- AES-SIV (RFC 5297) for many messages under one key ------------------------------------------
//
// @noble/ciphers' `aessiv(key, ...ad)` expands both AES keys and recomputes the CMAC of every
// associated-data component for each message: 90 microseconds a BSN, nine seconds for a hundred
// thousand. The same function is computed here from noble's AES block (its `unsafe` export):
// the keys expanded once, the CMAC subkeys and the S2V state over the fixed components computed
// once, so a BSN costs four AES blocks. The browser tests compare it with noble's `aessiv` on
// random keys, messages and associated data, and with RFC 5297's vector.

function dbl(block) {
  const out = new Uint8Array(16);
  for (let i = 0; i < 15; i++) out[i] = ((block[i] << 1) | (block[i + 1] >>> 7)) & 0xff;
  out[15] = ((block[15] << 1) & 0xff) ^ (block[0] & 0x80 ? 0x87 : 0);
  return out;
}

function xorInto(target, source, at = 0) {
  for (let i = 0; i < source.length; i++) target[at + i] ^= source[i];
  return target;
}

/**
 * AES-SIV with a 32-, 48- or 64-byte key whose first associated-data components are `fixed`
 * (the same for every message); `encrypt(plain, ...more)` takes the remaining components.
 */
export function sivWithAssociated(key, fixed) {
  if (![32, 48, 64].includes(key.length)) throw new Error("AES-SIV key must be 32, 48 or 64 bytes");
  const half = key.length / 2;
  const macKey = aes.expandKeyLE(key.slice(0, half));
  const ctrKey = aes.expandKeyLE(key.slice(half));
  const block = (bytes) => aes.encryptBlock(macKey, bytes);
  const k1 = dbl(block(new Uint8Array(16)));
  const k2 = dbl(k1);

  function cmac(message) {
    const full = Math.max(0, Math.ceil(message.length / 16) - 1);
    const state = new Uint8Array(16);
    for (let i = 0; i < full; i++) block(xorInto(state, message.subarray(i * 16, i * 16 + 16)));
    const last = message.subarray(full * 16);
    if (last.length === 16 && message.length > 0) {
      xorInto(xorInto(state, last), k1);
    } else {
      xorInto(state, last);
      state[last.length] ^= 0x80;
      xorInto(state, k2);
    }
    return block(state);
  }

  let start = cmac(new Uint8Array(16));
  for (const component of fixed) start = xorInto(dbl(start), cmac(component));

  function s2v(more, plain) {
    let d = start;
    for (const component of more) d = xorInto(dbl(d), cmac(component));
    if (plain.length >= 16) {
      const last = Uint8Array.from(plain);
      xorInto(last, d, plain.length - 16);
      return cmac(last);
    }
    const t = dbl(d);
    xorInto(t, plain);
    t[plain.length] ^= 0x80;
    return cmac(t);
  }

  return {
    encrypt(plain, ...more) {
      const iv = s2v(more, plain);
      const counter = Uint8Array.from(iv);
      counter[8] &= 0x7f;
      counter[12] &= 0x7f;
      const out = new Uint8Array(16 + plain.length);
      out.set(iv);
      for (let at = 0; at < plain.length; at += 16) {
        const stream = aes.encryptBlock(ctrKey, Uint8Array.from(counter));
        for (let i = 0; i < 16 && at + i < plain.length; i++) out[16 + at + i] = plain[at + i] ^ stream[i];
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
