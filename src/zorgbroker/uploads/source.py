"""The source's part of `zorgbroker submit`: make the stage-1 file of an export in a private
temporary folder of its own, so the upload service is handed only that, and remove it afterwards,
also when the upload fails or is stopped with Ctrl-C.

The folder is made by `tempfile` (mode 0700, outside ZORGBROKER_HOME and its upload store); the
stage-1 file holds no BSN, name or full birth date (docs/pseudonymisation.md, section 8).
"""

from __future__ import annotations

import datetime as dt
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from zorgbroker.intake.api import Mode
from zorgbroker.uploads.errors import UploadError

#: Name of the stage-1 file inside its temporary folder.
STAGE1_NAME = "stap1.zip"


@contextmanager
def stage1_file(
    export: Path,
    *,
    dataset: str,
    organisation: str,
    mode: Mode,
    home: Path,
    today: dt.date | None = None,
) -> Iterator[Path]:
    """The stage-1 file of `export`, made at the source for `dataset`'s registry, in a folder
    that is removed when the block ends, whatever way it ends. `UploadError` (a Dutch message)
    when the export or the keys cannot be used."""
    from zorgbroker.intake.api import ReadError, SpecError
    from zorgbroker.pseudonymisation.custody import KeyCustodyError
    from zorgbroker.pseudonymisation.errors import TTPError
    from zorgbroker.pseudonymisation.source_side import make_stage1
    from zorgbroker.uploads.service import check_agb, dataset_spec

    check_agb(organisation)
    if mode not in ("test", "production"):
        raise UploadError(f"onbekende modus '{mode}'; kies test of production")
    if not export.is_file():
        raise UploadError(f"bestand '{export}' bestaat niet of is geen bestand")
    spec = dataset_spec(dataset)
    with tempfile.TemporaryDirectory(prefix="zorgbroker-stap1-") as folder:
        target = Path(folder) / STAGE1_NAME
        try:
            make_stage1(
                export,
                spec.dataset,
                target,
                mode=mode,
                home=home,
                organisation=organisation,
                today=today,
                display_name=export.name,
            )
        except TTPError as error:
            raise UploadError(f"Pseudonimisering bij de bron mislukt: {error.message}") from None
        except (KeyCustodyError, ValueError) as error:
            raise UploadError(f"Pseudonimisering bij de bron mislukt: {error}") from None
        except (ReadError, SpecError) as error:
            raise UploadError(str(getattr(error, "message", None) or error)) from None
        yield target
