// The stage-1 ZIP, deflated while it is being written. stage1.js hands over each table's CSV in
// chunks as it makes them; a worker (zip_worker.js) deflates them on another core meanwhile, so
// compressing costs hardly any time of its own. Where no module worker can start, the same
// streaming fflate archive is made here instead.

import { Zip, ZipDeflate } from "../vendor/fflate/browser.js";

/** Level 1, as source_file.py: pseudonyms and sealed values hardly compress further. */
export const LEVEL = 1;

/** An fflate archive that collects its output; `messages` are what the worker is sent. */
export function archive() {
  const parts = [];
  let current = null;
  let failure = null;
  let finished = null;
  const done = new Promise((resolve, reject) => (finished = { resolve, reject }));
  const zip = new Zip((error, data, final) => {
    if (error) {
      failure = error;
      finished.reject(error);
      return;
    }
    parts.push(data);
    if (final) finished.resolve(parts);
  });
  return {
    handle(message) {
      if (failure) return;
      if (message.start !== undefined) {
        current = new ZipDeflate(message.start, { level: LEVEL });
        zip.add(current);
      } else if (message.chunk !== undefined) {
        current.push(message.chunk, false);
      } else if (message.finish) {
        current.push(new Uint8Array(0), true);
        current = null;
      } else if (message.end) {
        zip.end();
      }
    },
    done,
  };
}

function inWorker() {
  let worker;
  try {
    worker = new Worker(new URL("./zip_worker.js", import.meta.url), { type: "module" });
  } catch {
    return null;
  }
  let settle = null;
  const done = new Promise((resolve, reject) => (settle = { resolve, reject }));
  worker.onmessage = ({ data }) => {
    if (data.error) settle.reject(new Error(`Inpakken mislukt: ${data.error}`));
    else settle.resolve(data.parts);
    worker.terminate();
  };
  worker.onerror = (event) => {
    event.preventDefault();
    settle.reject(new Error("Inpakken mislukt: de hulpprocessen van de browser weigeren."));
    worker.terminate();
  };
  return {
    send(message, transfer = []) {
      worker.postMessage(message, transfer);
    },
    stop() {
      worker.terminate();
    },
    done,
  };
}

/**
 * A ZIP made member by member: `member(name)`, `write(bytes)` (handed over: do not reuse them),
 * `close()` per member, and `end()`, which resolves to the archive as a Blob.
 */
export function zipSink({ useWorker = true } = {}) {
  const remote = useWorker ? inWorker() : null;
  const local = remote ? null : archive();
  const send = remote ? remote.send : (message) => local.handle(message);
  return {
    member(name) {
      send({ start: name });
    },
    write(bytes) {
      if (bytes.length) send({ chunk: bytes }, [bytes.buffer]);
    },
    close() {
      send({ finish: true });
    },
    /** Gives up the archive (a failure before its end): the worker stops at once. */
    abort() {
      if (remote) remote.stop();
    },
    async end() {
      send({ end: true });
      const parts = await (remote ? remote.done : local.done);
      return new Blob(parts, { type: "application/zip" });
    },
  };
}
