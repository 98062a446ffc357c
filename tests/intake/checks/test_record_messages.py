"""A file-level rule's message names the values that broke it, never an identifying one."""

from __future__ import annotations

import json
from pathlib import Path

from tests.intake.checks.test_spec_format import make_spec
from tests.intake.conftest import TODAY, write_csv
from zorgbroker.intake.api import CheckOptions, check_upload
from zorgbroker.intake.report.json_report import to_json_dict
from zorgbroker.intake.spec import load_path

SPEC = """
dataset: demo-file
version: "1.0"
title: Demo
registry: demo
tables:
  - name: main
    main: true
    fields:
      - {name: id, required: true}
      - {name: achternaam, identifying: drop}
      - {name: afdeling, required: true}
    rules:
      - {code: BF-901, field: achternaam, scope: file, when: "is_duplicated(achternaam)"}
      - {code: BF-902, field: afdeling, scope: file, when: "n_unique(afdeling) > 1"}
messages:
  BF-901: {nl: "Dezelfde naam twee keer", en: "Same name twice"}
  BF-902: {nl: "Meer dan één afdeling", en: "More than one ward"}
"""


def test_values_of_a_plain_field_are_shown_and_of_an_identifying_one_never(tmp_path: Path):
    spec = load_path(make_spec(tmp_path / "demo-file", SPEC, codes=None))
    rows = [
        {"id": str(i), "achternaam": "Jansen-Vermeulen", "afdeling": ward}
        for i, ward in enumerate(["CARD", "CARD", "NEUR", "KNO", "ORTH", "LONG", "URO"])
    ]
    path = write_csv(tmp_path / "d.csv", ["id", "achternaam", "afdeling"], rows)

    report = check_upload(path, spec, CheckOptions(today=TODAY)).report

    values = dict(report.messages.select("code", "value").rows())
    assert values == {"BF-901": None, "BF-902": "CARD, NEUR, KNO, ORTH, LONG (en nog 1)"}
    assert "Jansen" not in json.dumps(to_json_dict(report))
