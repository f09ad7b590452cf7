"""Repository hygiene: CI runs the README's test command; the code is ruff clean."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def readme_commands() -> list[str]:
    blocks = re.findall(r"```bash\n(.*?)```", (ROOT / "README.md").read_text(), re.S)
    return [line for b in blocks[:2] for line in b.splitlines() if line and not line.startswith("#")]


def test_ci_runs_the_readme_test_command():
    main_job, test_cmd = readme_commands()
    assert "blocsim run" in main_job
    assert "pytest" in test_cmd
    assert test_cmd in (ROOT / ".ci" / "run").read_text()


@pytest.mark.skipif(
    shutil.which("ruff") is None and not (Path(sys.executable).parent / "ruff").exists(), reason="ruff not installed"
)
def test_ruff_clean():
    ruff = shutil.which("ruff") or str(Path(sys.executable).parent / "ruff")
    proc = subprocess.run([ruff, "check", str(ROOT)], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_citation_matches_the_package():
    import model

    text = (ROOT / "CITATION.cff").read_text()
    assert "cff-version: 1.2.0" in text
    for key in ("title:", "authors:", "message:", "version:", "license: Apache-2.0"):
        assert key in text
    assert f"version: {model.__version__}" in text
    assert f'version = "{model.__version__}"' in (ROOT / "pyproject.toml").read_text()
    assert f"## {model.__version__}" in (ROOT / "CHANGELOG.md").read_text()
    assert "Apache License" in (ROOT / "LICENSE").read_text()


@pytest.mark.parametrize("first", ["agents", "model", "experiments", "agents.producers", "experiments.cli"])
def test_each_package_imports_on_its_own(first):
    """Any package can be imported first (no import cycle)."""
    proc = subprocess.run([sys.executable, "-c", f"import {first}"], capture_output=True, text=True, cwd=ROOT)
    assert proc.returncode == 0, proc.stderr
