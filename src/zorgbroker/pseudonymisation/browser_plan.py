"""What the portal's browser needs to make a stage-1 file itself: the dataset's "plan" as JSON.

The browser's stage 1 (`portal/static/stage1/`) knows no dataset: it reads from this plan which
fields a table has, which identify a person and what happens to them, the ages to compute
before a birth date is cut to its year, the columns of the stage-1 CSV in the order
`source_file` writes them, and the source checks with their rule conditions as syntax trees
(docs/pseudonymisation.md, section 8.7). A new dataset therefore needs no new JavaScript.
"""

from __future__ import annotations

import base64
from typing import Any

from zorgbroker.intake import api as intake_api
from zorgbroker.pseudonymisation.method import (
    BSN_LABEL,
    LABEL_SEPARATOR,
    METHOD_VERSION,
    is_reidentifiable,
)
from zorgbroker.pseudonymisation.sealing import SEAL_PREFIX
from zorgbroker.pseudonymisation.source_file import SEALED_SUFFIX, age_derivations
from zorgbroker.pseudonymisation.stage1_manifest import (
    FINDINGS_COLUMN,
    FORMAT,
    FORMAT_VERSION,
    MANIFEST_NAME,
)

#: Changes whenever the plan's shape changes in a way the browser's modules must follow.
PLAN_FORMAT = "zorgbroker-stap1-plan"
PLAN_VERSION = 1


def _columns(table: Any, reidentifiable: bool) -> list[str]:
    """Every column a stage-1 CSV of this table can have, in `source_file`'s order; the browser
    writes those whose source is there (a field in the export, an age whose two dates are)."""
    kinds = [(f.name, f.identifying) for f in table.fields]
    out = [name for name, kind in kinds if kind != "drop"]
    out += [column for _, column in age_derivations(table).values()]
    if reidentifiable:
        out += [name + SEALED_SUFFIX for name, kind in kinds if kind == "pseudonymise"]
    out.append(FINDINGS_COLUMN)
    return out


def browser_plan(spec: Any, *, ttp_public_key: bytes | None = None) -> dict[str, Any]:
    """The plan of a dataset specification (`intake.api.DatasetSpec`), ready for `json.dumps`.

    `ttp_public_key` is the TTP's X25519 sealing key, for a re-identifiable registry's production
    uploads (base64 in the plan); None leaves it out (a test upload seals nothing)."""
    checks = intake_api.source_check_plan(spec)
    reidentifiable = is_reidentifiable(spec.registry)
    tables = []
    for table in spec.tables:
        tables.append(
            {
                "name": table.name,
                # Where the table's rows come from in a ZIP or workbook, and the member it
                # becomes in the stage-1 file (source_file names them alike).
                "file": table.file,
                "member": table.file or f"{table.name}.csv",
                "main": table.main,
                "fields": [
                    {
                        "name": f.name,
                        "type": f.type,
                        "normalise": f.normalise,
                        "identifying": f.identifying,
                    }
                    for f in table.fields
                ],
                "ages": [
                    {"birth": birth, "event": event, "column": column}
                    for birth, (event, column) in age_derivations(table).items()
                ],
                "columns": _columns(table, reidentifiable),
                "source_checks": checks[table.name],
            }
        )
    return {
        "format": PLAN_FORMAT,
        "plan_version": PLAN_VERSION,
        "dataset": spec.dataset,
        "version": spec.version,
        "title": spec.title,
        "registry": spec.registry,
        "method": METHOD_VERSION,
        "reidentifiable": reidentifiable,
        "multi_table": spec.multi_table,
        "bsn_label": BSN_LABEL,
        "label_separator": LABEL_SEPARATOR,
        "seal_prefix": SEAL_PREFIX,
        "sealed_suffix": SEALED_SUFFIX,
        "findings_column": FINDINGS_COLUMN,
        "manifest": {"name": MANIFEST_NAME, "format": FORMAT, "format_version": FORMAT_VERSION},
        "ttp_public_key": base64.b64encode(ttp_public_key).decode()
        if ttp_public_key is not None and reidentifiable
        else None,
        "tables": tables,
    }
