// Unwrapping the project's source key in the browser with the user's TTP password.
//
// The TTP wrapped K_source with AES-256-GCM under PBKDF2-HMAC-SHA256(password); the registry's
// portal only relays that blob (GET /aanleveren/sleutel/{registry}). The method is the one of
// zorgbroker.pseudonymisation.keywrap and docs/pseudonymisation.md section 9; both are checked
// against src/zorgbroker/pseudonymisation/vectors/keywrap-vectors.json. WebCrypto does all of it,
// so no library is loaded, and the password and the key never leave this page.

const FORMAT = "zorgbroker-bronsleutel";
const FORMAT_VERSION = 1;
// A blob asking for fewer rounds was not made by the TTP; unwrapping it would only make a
// password cheaper to guess.
const MIN_ITERATIONS = 100000;

export const WRONG_PASSWORD = "Het TTP-wachtwoord klopt niet.";

function fromBase64(text, field) {
  let binary;
  try {
    binary = atob(String(text));
  } catch {
    throw new Error(`Het veld ${field} van de sleutelomslag is geen base64.`);
  }
  const bytes = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i += 1) bytes[i] = binary.charCodeAt(i);
  return bytes;
}

// The same bytes as keywrap.associated_data in Python: the blob belongs to one registry,
// organisation and user, so a relayed blob cannot be passed off as another user's.
function associatedData(wrapped) {
  const email = String(wrapped.email).trim().toLowerCase();
  const parts = [FORMAT, String(FORMAT_VERSION), String(wrapped.registry),
    String(wrapped.organisation), email];
  if (parts.some((part) => part.includes("|") || part.includes("\n"))) {
    throw new Error("Een deel van de sleutelomslag bevat een '|' of regeleinde.");
  }
  return new TextEncoder().encode(parts.join("|"));
}

function checkShape(wrapped) {
  if (!wrapped || wrapped.format !== FORMAT || wrapped.format_version !== FORMAT_VERSION) {
    throw new Error("Dit is geen sleutelomslag van zorgbroker (versie 1).");
  }
  if (wrapped.kdf !== "PBKDF2-HMAC-SHA256" || wrapped.cipher !== "AES-256-GCM") {
    throw new Error("De sleutelomslag gebruikt een onbekende methode.");
  }
  if (!Number.isInteger(wrapped.iterations) || wrapped.iterations < MIN_ITERATIONS) {
    throw new Error(
      `De sleutelomslag vraagt te weinig PBKDF2-rondes (minimaal ${MIN_ITERATIONS}).`);
  }
}

/**
 * K_source (32 bytes) from the JSON the portal relays and the user's TTP password.
 * A wrong password (or an altered blob) rejects with Error("Het TTP-wachtwoord klopt niet.").
 */
export async function unwrapSourceKey(wrapped, password) {
  checkShape(wrapped);
  const salt = fromBase64(wrapped.salt, "salt");
  const iv = fromBase64(wrapped.iv, "iv");
  const sealed = fromBase64(wrapped.wrapped, "wrapped");
  const additionalData = associatedData(wrapped);
  // NFC, as in Python: an accented letter typed composed or decomposed is the same password.
  const secret = new TextEncoder().encode(String(password).normalize("NFC"));
  const material = await crypto.subtle.importKey("raw", secret, "PBKDF2", false, ["deriveKey"]);
  const kek = await crypto.subtle.deriveKey(
    { name: "PBKDF2", hash: "SHA-256", salt, iterations: wrapped.iterations },
    material,
    { name: "AES-GCM", length: 256 },
    false,
    ["decrypt"],
  );
  let key;
  try {
    key = await crypto.subtle.decrypt(
      { name: "AES-GCM", iv, additionalData, tagLength: 128 }, kek, sealed);
  } catch {
    throw new Error(WRONG_PASSWORD);
  }
  return new Uint8Array(key);
}
