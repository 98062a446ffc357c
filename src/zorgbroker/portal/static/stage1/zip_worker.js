// Deflates the stage-1 ZIP beside the page (see zip_sink.js): it receives the members' chunks
// and answers with the archive's parts once told the archive ends.

import { archive } from "./zip_sink.js";

const zip = archive();
zip.done.then(
  // Copied, not transferred: fflate's parts may share buffers.
  (parts) => postMessage({ parts }),
  (error) => postMessage({ error: String(error) }),
);
onmessage = ({ data }) => zip.handle(data);
