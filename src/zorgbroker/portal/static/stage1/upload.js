// The upload page's glue (templates/uploads/start.html): the export is read and pseudonymised
// here, in the browser, and only its stage-1 file is sent; the raw file never leaves the
// user's machine (docs/pseudonymisation.md 8.7).
//
// The page: <form id="aanlevering" action=... data-plan-url="/aanleveren/plan/{dataset}.json"
// [data-key-url="/aanleveren/sleutel/{registry}"]> with fields `dataset`, `export`,
// `ttp_wachtwoord` (production only), `csrf_token`, submit buttons name="mode" (test /
// production), and <div id="voortgang-browser" aria-live="polite"> for what happens.

import { makeStage1 } from "./stage1.js";
import { unwrapSourceKey } from "./keywrap.js";

const KEY_URL = "/aanleveren/sleutel/{registry}";
const NUMBER = new Intl.NumberFormat("nl-NL");

function say(status, text, { error = false } = {}) {
  status.textContent = text;
  status.classList.toggle("error", error);
}

async function fetchJson(url, what) {
  let answer;
  try {
    answer = await fetch(url, {
      credentials: "same-origin",
      headers: { Accept: "application/json" },
    });
  } catch {
    throw new Error(`${what} kon niet worden opgehaald: geen verbinding met het portaal.`);
  }
  let body = null;
  try {
    body = await answer.json();
  } catch {
    body = null;
  }
  if (!answer.ok) {
    const detail = body && typeof body.detail === "string" ? body.detail : `fout ${answer.status}`;
    throw new Error(`${what} kon niet worden opgehaald: ${detail}`);
  }
  return body;
}

function progressText({ phase, rows, total, rowsPerSecond }) {
  if (phase === "lezen") return "Bestand lezen…";
  if (phase === "inpakken") return "Stap-1-bestand inpakken…";
  const of = total ? ` van ${NUMBER.format(total)}` : "";
  const rate = NUMBER.format(rowsPerSecond);
  return `Pseudonimiseren… ${NUMBER.format(rows)}${of} rijen (${rate} rijen/s)`;
}

async function sourceKeyFor(form, plan, password) {
  if (!password) throw new Error("Vul uw TTP-wachtwoord in voor een productieaanlevering.");
  const template = form.getAttribute("data-key-url") || KEY_URL;
  const url = template.replace("{registry}", encodeURIComponent(plan.registry));
  const wrapped = await fetchJson(url, "De sleutel van het project");
  return unwrapSourceKey(wrapped, password);
}

/** Sends the stage-1 file as the form would have sent the export, and follows the answer. */
async function send(form, made, mode) {
  const data = new FormData();
  data.append("csrf_token", form.elements.csrf_token.value);
  data.append("dataset", form.elements.dataset.value);
  data.append("mode", mode);
  data.append("bestand", made.blob, made.fileName);
  let answer;
  try {
    answer = await fetch(form.getAttribute("action"), {
      method: "POST",
      body: data,
      credentials: "same-origin",
    });
  } catch {
    throw new Error(
      "Het stap-1-bestand kon niet worden verstuurd: geen verbinding met het portaal.",
    );
  }
  if (answer.redirected || answer.ok) {
    // fetch followed the portal's 303 to the progress page: show that page.
    window.location.assign(answer.url);
    return;
  }
  throw new Error(`Het portaal weigerde het stap-1-bestand: ${await refusal(answer)}`);
}

/** What the portal said when it refused: its page's error message, or its plain answer. */
async function refusal(answer) {
  let text = "";
  try {
    text = await answer.text();
  } catch {
    text = "";
  }
  if ((answer.headers.get("content-type") || "").includes("html")) {
    const page = new DOMParser().parseFromString(text, "text/html");
    const shown = page.querySelector("#foutmelding p, [role=alert]");
    text = shown ? shown.textContent : "";
  }
  text = text.replace(/\s+/g, " ").trim().slice(0, 300);
  return text || `fout ${answer.status}`;
}

export async function handleSubmit(form, status, mode) {
  const file = form.elements.export.files[0];
  if (!file) throw new Error("Kies eerst het bestand dat u wilt aanleveren.");
  const dataset = form.elements.dataset.value;
  say(status, "Bestand lezen…");
  // Not form.dataset: on a form that names the <select name="dataset">.
  const plan = await fetchJson(
    form.getAttribute("data-plan-url").replace("{dataset}", encodeURIComponent(dataset)),
    "De beschrijving van de dataset",
  );
  const password = form.elements.ttp_wachtwoord ? form.elements.ttp_wachtwoord.value : "";
  const sourceKey = mode === "production" ? await sourceKeyFor(form, plan, password) : null;
  if (form.elements.ttp_wachtwoord) form.elements.ttp_wachtwoord.value = "";
  const made = await makeStage1(file, plan, {
    mode,
    sourceKey,
    onProgress: (p) => say(status, progressText(p)),
  });
  if (sourceKey) sourceKey.fill(0);
  say(status, "Stap-1-bestand versturen…");
  await send(form, made, mode);
}

function start() {
  const form = document.getElementById("aanlevering");
  const status = document.getElementById("voortgang-browser");
  if (!form || !status) return;
  let busy = false;
  form.addEventListener("submit", async (event) => {
    // Never the browser's own submit: that would send the raw export.
    event.preventDefault();
    if (busy) return;
    const mode = event.submitter && event.submitter.value === "production" ? "production" : "test";
    busy = true;
    const buttons = form.querySelectorAll("button");
    buttons.forEach((b) => (b.disabled = true));
    try {
      await handleSubmit(form, status, mode);
    } catch (error) {
      say(status, error instanceof Error ? error.message : String(error), { error: true });
    } finally {
      busy = false;
      buttons.forEach((b) => (b.disabled = false));
    }
  });
  // The page renders the buttons disabled: only now does a click go through this handler.
  form.querySelectorAll("button").forEach((b) => (b.disabled = false));
}

start();
