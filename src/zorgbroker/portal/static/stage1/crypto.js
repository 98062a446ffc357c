// The method's cryptography in the browser, as pseudonymisation/{bsn,source,method,sealing}.py
// compute it (docs/pseudonymisation.md, sections 1 and 3.1). The shared test vectors
// (pseudonymisation/vectors/stage1-vectors.json) hold both implementations to the same answers.
//
// HMAC-SHA256 comes from @noble/hashes rather than WebCrypto: WebCrypto answers every HMAC with a
// promise, and a hundred thousand promises cost more than the hashing. X25519 and HKDF are
// WebCrypto's; AES-SIV (RFC 5297), which WebCrypto lacks, is @noble/ciphers' `aessiv`.

import { sha256 } from "../vendor/noble-hashes/sha2.js";
import { hmac } from "../vendor/noble-hashes/hmac.js";
import { aessiv } from "../vendor/noble-ciphers/aes.js";

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
 * values. The key's padded blocks and the label are hashed once; each value costs the rest.
 */
export function stage1Hasher(key, label) {
  if (!/^[a-z0-9_-]+$/.test(label)) throw new Error(`Ongeldig label ${label} voor stap 1.`);
  const base = hmac.create(sha256, key).update(ENCODER.encode(label + "|"));
  return {
    /** The 32 bytes of P1 of a normalised value. */
    bytes(value) {
      return base.clone().update(ENCODER.encode(value)).digest();
    },
    hex(value) {
      return toHex(this.bytes(value));
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
  return {
    /** `zb1s.<b64 eph pub>.<b64 AES-SIV(BSN, ad=[registry, P1])>` of a normalised BSN. */
    seal(bsn, p1Bytes) {
      const sealed = aessiv(key, registryBytes, p1Bytes).encrypt(ENCODER.encode(bsn));
      return prefix + toBase64(sealed);
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
