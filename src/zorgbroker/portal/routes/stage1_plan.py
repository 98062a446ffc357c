"""The plan of a dataset for the browser's stage 1 (docs/pseudonymisation.md, section 8.7).

The upload page's JavaScript makes the stage-1 file on the user's machine; what it needs to know
of a dataset (fields, identifying roles, source checks, the TTP's sealing key) it reads here, so
a new dataset needs no new JavaScript. The TTP's public sealing key comes from the callable the
composition root puts on `app.state.seal_public_key` (none: production uploads that must seal
are refused in the browser, saying why).
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import JSONResponse

from zorgbroker.intake import api as intake_api
from zorgbroker.portal.pages import signed_in_user
from zorgbroker.pseudonymisation.browser_plan import browser_plan

router = APIRouter()
log = logging.getLogger(__name__)

SealPublicKey = Callable[[], bytes | None]


@router.get("/aanleveren/plan/{dataset}.json")
def stage1_plan(request: Request, dataset: str) -> JSONResponse:
    signed_in_user(request)
    if dataset not in {entry.name for entry in intake_api.available()}:
        raise HTTPException(404)
    spec = intake_api.load_dataset(dataset)
    source: SealPublicKey | None = getattr(request.app.state, "seal_public_key", None)
    public = None
    if source is not None and spec.reidentifiable:
        try:
            public = source()
        except Exception:  # the TTP unreachable: test uploads still work, production says why
            log.warning("the TTP's sealing key could not be fetched", exc_info=True)
    return JSONResponse(
        browser_plan(spec, ttp_public_key=public), headers={"Cache-Control": "no-store"}
    )
