"""The import rules between the domain packages (pyproject's [tool.importlinter]) hold, and the
check really fails when one is broken: a copy of the package with one forbidden import added
must be refused."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")


def _lint(source_root: Path, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(source_root)}
    return subprocess.run(
        [str(LINT_IMPORTS), "--no-cache", str(ROOT / "pyproject.toml")],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_the_tree_keeps_the_import_rules(tmp_path: Path) -> None:
    result = _lint(ROOT / "src", tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize(
    ("module", "forbidden_import", "contract"),
    [
        ("intake/spec/loader.py", "import zorgbroker.registry.models", "Intake"),
        ("registry/importer.py", "import zorgbroker.intake.checks.plan", "intake's public API"),
        ("registry/importer.py", "import zorgbroker.pseudonymisation.custody", "TTP"),
    ],
)
def test_a_forbidden_import_is_refused(
    tmp_path: Path, module: str, forbidden_import: str, contract: str
) -> None:
    copy = tmp_path / "src"
    shutil.copytree(
        ROOT / "src" / "zorgbroker",
        copy / "zorgbroker",
        ignore=shutil.ignore_patterns("__pycache__"),
    )
    target = copy / "zorgbroker" / module
    target.write_text(target.read_text() + f"\n{forbidden_import}  # noqa\n")
    result = _lint(copy, tmp_path)
    assert result.returncode != 0
    assert "BROKEN" in result.stdout and contract in result.stdout
