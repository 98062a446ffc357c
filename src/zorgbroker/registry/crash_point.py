"""A deterministic point to kill an import at, for the crash tests (inert unless asked for).

With ZORGBROKER_TEST_PAUSE_IMPORT=/some/path set, an import that has written its first batch of
records (inside its transaction, not yet committed) creates `/some/path.reached` and waits until
`/some/path` exists. A test kills the process while it waits, and then checks that nothing of the
upload was stored.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

PAUSE_ENV = "ZORGBROKER_TEST_PAUSE_IMPORT"
#: A paused import whose test went away does not wait forever: it ends, committing nothing.
GIVE_UP_SECONDS = 900


def pause_after_batch(rows_written: int) -> None:
    target = os.environ.get(PAUSE_ENV)
    if not target:
        return
    release = Path(target)
    Path(f"{target}.reached").write_text(str(rows_written), encoding="utf-8")
    deadline = time.monotonic() + GIVE_UP_SECONDS
    while not release.exists():
        if time.monotonic() > deadline:
            os._exit(75)
        time.sleep(0.05)
