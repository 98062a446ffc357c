// Passkeys (WebAuthn): the buttons marked data-passkey ask the portal for options, let the
// browser create or use a credential, and send its answer back. Served from the portal itself
// (the CSP allows no inline script).
(function () {
  "use strict";

  function csrfToken() {
    return JSON.parse(document.body.getAttribute("hx-headers"))["X-CSRF-Token"];
  }

  function toBytes(value) {
    const base64 = value.replace(/-/g, "+").replace(/_/g, "/");
    const padded = base64 + "===".slice((base64.length + 3) % 4);
    return Uint8Array.from(atob(padded), (c) => c.charCodeAt(0));
  }

  function toText(buffer) {
    let binary = "";
    new Uint8Array(buffer).forEach((b) => { binary += String.fromCharCode(b); });
    return btoa(binary).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  }

  async function post(url, body) {
    const response = await fetch(url, {
      method: "POST",
      headers: { "Content-Type": "application/json", "X-CSRF-Token": csrfToken() },
      body: JSON.stringify(body || {}),
      credentials: "same-origin",
    });
    return response.json();
  }

  function credentialJson(credential) {
    const r = credential.response;
    const response = { clientDataJSON: toText(r.clientDataJSON) };
    if (r.attestationObject) { response.attestationObject = toText(r.attestationObject); }
    if (r.authenticatorData) { response.authenticatorData = toText(r.authenticatorData); }
    if (r.signature) { response.signature = toText(r.signature); }
    if (r.userHandle) { response.userHandle = toText(r.userHandle); }
    return JSON.stringify({
      id: credential.id, rawId: toText(credential.rawId), type: credential.type, response: response,
    });
  }

  async function run(button) {
    const status = document.getElementById(button.getAttribute("aria-describedby"));
    const register = button.dataset.passkey === "register";
    status.textContent = "Volg de aanwijzingen van uw browser.";
    try {
      const options = await post(button.dataset.options);
      if (options.next) { window.location.assign(options.next); return; }
      if (options.error) { status.textContent = options.error; return; }
      options.challenge = toBytes(options.challenge);
      (options.allowCredentials || options.excludeCredentials || []).forEach((c) => {
        c.id = toBytes(c.id);
      });
      let credential;
      if (register) {
        options.user.id = toBytes(options.user.id);
        credential = await navigator.credentials.create({ publicKey: options });
      } else {
        credential = await navigator.credentials.get({ publicKey: options });
      }
      const name = document.getElementById("passkey-naam");
      const answer = await post(button.dataset.finish, {
        credential: credentialJson(credential), name: name ? name.value : "",
      });
      if (answer.next) { window.location.assign(answer.next); return; }
      status.textContent = answer.error || "Dat lukte niet.";
    } catch (error) {
      status.textContent = "De passkey is niet gebruikt. Probeer het opnieuw of kies een andere manier.";
    }
  }

  document.addEventListener("click", (event) => {
    const button = event.target.closest("[data-passkey]");
    if (button) { event.preventDefault(); run(button); }
  });
})();
