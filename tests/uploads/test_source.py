"""The source's part of `zorgbroker submit`: the stage-1 file is made in a private temporary
folder that is gone afterwards, however the block ends."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from tests.intake.conftest import write_csv
from tests.registry.conftest import AGB, NHR_HEADER, TODAY, nhr_row
from zorgbroker.pseudonymisation.stage1_reader import read_manifest
from zorgbroker.uploads.errors import UploadError
from zorgbroker.uploads.source import stage1_file


def _export(tmp_path: Path) -> Path:
    return write_csv(tmp_path / "export.csv", NHR_HEADER, [nhr_row(achternaam="Vermeulenhorst")])


def test_the_stage1_file_is_made_privately_and_removed_afterwards(tmp_path: Path):
    export = _export(tmp_path)
    with stage1_file(
        export, dataset="nhr-pmicd", organisation=AGB, mode="test", home=tmp_path, today=TODAY
    ) as made:
        assert stat.S_IMODE(made.parent.stat().st_mode) == 0o700
        assert read_manifest(made).file["name"] == "export.csv"
        assert b"Vermeulenhorst" not in made.read_bytes()
        folder = made.parent
    assert not folder.exists()


def test_ctrl_c_or_a_failure_while_it_is_sent_removes_it_too(tmp_path: Path):
    export = _export(tmp_path)
    for stop in (KeyboardInterrupt, RuntimeError):
        with (
            pytest.raises(stop),
            stage1_file(
                export, dataset="nhr-pmicd", organisation=AGB, mode="test", home=tmp_path
            ) as made,
        ):
            folder = made.parent
            raise stop
        assert not folder.exists()


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"dataset": "geen-dataset"}, "nbekende dataset 'geen-dataset'"),
        ({"organisation": "123"}, "'123' is geen AGB-code van 8 cijfers"),
        ({"mode": "echt"}, "onbekende modus 'echt'"),
        ({"export": Path("bestaat-niet.csv")}, "bestaat niet of is geen bestand"),
    ],
)
def test_what_cannot_be_made_is_a_dutch_usage_error(
    tmp_path: Path, change: dict[str, object], message: str
):
    args: dict[str, object] = {
        "export": _export(tmp_path), "dataset": "nhr-pmicd", "organisation": AGB,
        "mode": "test", "home": tmp_path,
    }  # fmt: skip
    args.update(change)
    with pytest.raises(UploadError, match=message), stage1_file(**args):  # type: ignore[arg-type]
        pass
