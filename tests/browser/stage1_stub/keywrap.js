// A stand-in for keywrap.js (engineer ttpkey) while it is being written: the "wrapped" key is
// the key itself in base64 under `wrapped`, opened only with the password "goed wachtwoord".
export async function unwrapSourceKey(wrapped, password) {
  if (password !== "goed wachtwoord") throw new Error("Het TTP-wachtwoord klopt niet.");
  return Uint8Array.from(atob(wrapped.wrapped), (c) => c.charCodeAt(0));
}
