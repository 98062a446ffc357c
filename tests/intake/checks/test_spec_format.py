"""A new registry is new files: the format, the loader and its error messages."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.intake.conftest import TODAY, triples, write_csv
from zorgbroker.intake.api import CheckOptions, check_upload
from zorgbroker.intake.spec import SpecError, available, load_dataset, load_path

SPEC = """
dataset: demo-reg
version: "1.0"
title: Demo
registry: demo
tables:
  - name: main
    main: true
    fields:
      - {name: id, required: true, unique: true}
      - {name: kleur, type: code, codes: kleur, required: true}
      - {name: gewicht, type: number, minimum: 0, maximum: 500}
    rules:
      - {code: W-901, field: gewicht, when: "kleur = 'rood' and gewicht > 100"}
messages:
  W-901: {nl: "Rood en zwaar", en: "Red and heavy"}
"""


def make_spec(
    folder: Path, text: str = SPEC, codes: str | None = "code;omschrijving\nrood;Rood\n"
) -> Path:
    folder.mkdir(parents=True)
    (folder / "spec.yaml").write_text(text, encoding="utf-8")
    if codes is not None:
        (folder / "codes").mkdir()
        (folder / "codes" / "kleur.csv").write_text(codes, encoding="utf-8")
    return folder


def test_new_registry_is_new_files(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    make_spec(tmp_path / "specs" / "demo-reg")
    monkeypatch.setenv("ZORGBROKER_DATASETS", str(tmp_path / "specs"))
    load_dataset.cache_clear()
    try:
        assert "demo-reg" in [e.name for e in available()]
        spec = load_dataset("demo-reg")
        rows = [{"id": "1", "kleur": "rood", "gewicht": "120"}, {"id": "1", "kleur": "blauw"}]
        path = write_csv(tmp_path / "d.csv", ["id", "kleur", "gewicht"], rows)
        report = check_upload(path, spec, CheckOptions(today=TODAY)).report
        assert triples(report.messages) == {
            (1, "id", "F-006"),
            (1, "gewicht", "W-901"),
            (2, "id", "F-006"),
            (2, "kleur", "F-003"),
        }
    finally:
        load_dataset.cache_clear()


@pytest.mark.parametrize(
    ("text", "codes", "needle"),
    [
        (SPEC.replace("gewicht > 100", "gewicht >> 100"), "code\nrood\n", "cannot parse"),
        (SPEC.replace("gewicht > 100", "lengte > 100"), "code\nrood\n", "unknown field"),
        (SPEC.replace("gewicht > 100", "system('ls')"), "code\nrood\n", "unknown function"),
        (SPEC.replace("W-901: {nl", "W-902: {nl"), "code\nrood\n", "without a message text"),
        (SPEC, None, "code list"),
        (SPEC.replace("main: true", "main: false"), "code\nrood\n", "exactly one table"),
        ("dataset: [", None, "not valid YAML"),
        (SPEC.replace("gewicht > 100", "main.gewicht > 100"), "code\nrood\n", "one-row table"),
    ],
)
def test_broken_spec_names_the_problem(
    tmp_path: Path, text: str, codes: str | None, needle: str
) -> None:
    folder = make_spec(tmp_path / "bad", text, codes)
    with pytest.raises(SpecError) as info:
        load_path(folder)
    assert needle in str(info.value)
    assert "spec.yaml" in str(info.value) or "bad" in str(info.value)


def test_every_shipped_code_has_dutch_and_english_text() -> None:
    for entry in available():
        spec = load_dataset(entry.name)
        for code, text in spec.messages.items():
            assert text.nl and text.en, code


def test_shipped_datasets_match_the_documents() -> None:
    """The message codes of each dataset document are all declared (shared/datasets/*.md)."""
    import re

    shared = Path(__file__).resolve().parents[4] / "shared" / "datasets"
    if not shared.is_dir():
        pytest.skip("shared/datasets is not beside this checkout")
    for name in ("nhr-pmicd", "nivel-fysio", "parabench-mi"):
        document = (shared / f"{name}.md").read_text(encoding="utf-8")
        documented = set(re.findall(r"\|\s*((?:BF|BW|F|W|TF|TW)-[1-3]\d\d)\s*\|", document))
        assert documented, name
        assert documented <= set(load_dataset(name).messages), name


def test_dotted_name_to_an_unknown_field_is_a_spec_error(tmp_path: Path) -> None:
    import shutil

    from zorgbroker.intake.spec.loader import SHIPPED

    folder = tmp_path / "nivel-fysio"
    shutil.copytree(SHIPPED / "nivel-fysio", folder)
    spec = folder / "spec.yaml"
    spec.write_text(
        spec.read_text(encoding="utf-8").replace(
            "episode_id.startdatum or", "episode_id.startdatumm or"
        ),
        encoding="utf-8",
    )
    with pytest.raises(SpecError) as info:
        load_path(folder)
    assert "startdatumm" in str(info.value)
