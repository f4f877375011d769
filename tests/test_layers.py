"""The packages' layers (`.importlinter`): scf on top, the services in the middle and independent of
each other, scf_core at the bottom, no import cycles inside a package."""

import configparser
import os
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from scf_core.paths import ROOT

CONFIG = ROOT / ".importlinter"
LINT_IMPORTS = str(Path(sys.executable).parent / "lint-imports")


def lint_imports(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(cwd), os.environ.get("PYTHONPATH", "")]))
    return subprocess.run([LINT_IMPORTS, "--config", str(cwd / ".importlinter"), *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=120)


def _lines(value: str) -> set[str]:
    return {line.strip() for line in value.splitlines() if line.strip()}


def test_the_packages_keep_their_layers() -> None:
    result = lint_imports(ROOT)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout


def test_every_installed_package_is_checked() -> None:
    """A package pyproject installs (portal too, once it exists) is in root_packages and in the
    acyclic contract; a package missing there would escape every contract."""
    include = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"]["find"]["include"]
    installed = {name.rstrip("*") for name in include if (ROOT / name.rstrip("*") / "__init__.py").exists()}
    config = configparser.ConfigParser()
    config.read(CONFIG)
    assert {"scf_core", "chain_gateway", "indexer", "scf"} <= installed
    assert installed <= _lines(config["importlinter"]["root_packages"])
    assert installed <= _lines(config["importlinter:contract:acyclic"]["ancestors"])
    layered = {name.strip().strip("()") for layer in _lines(config["importlinter:contract:layers"]["layers"])
               for name in layer.split("|")}
    assert installed <= layered


# a tiny tree wired the allowed way: module file -> what it imports
ALLOWED = {
    "scf/main.py": ["chain_gateway", "indexer", "scf_core"],
    "chain_gateway/app.py": ["scf_core"],
    "indexer/a.py": ["indexer.b", "scf_core"],
    "indexer/b.py": ["scf_core"],
    "scf_core/paths.py": [],
}


@pytest.mark.parametrize(("module", "imported", "broken"), [
    ("chain_gateway/app.py", "scf", "scf > chain_gateway"),
    ("indexer/b.py", "scf.main", "scf > chain_gateway"),
    ("scf_core/paths.py", "chain_gateway", "scf > chain_gateway"),
    ("scf_core/paths.py", "scf", "scf > chain_gateway"),
    ("chain_gateway/app.py", "indexer", "scf > chain_gateway"),
    ("indexer/a.py", "chain_gateway.app", "scf > chain_gateway"),
    ("indexer/b.py", "indexer.a", "no import cycles"),  # indexer.a imports indexer.b: a cycle
    (None, None, None),  # the allowed directions only: every contract kept
])
def test_the_contracts_refuse_a_wrong_import(tmp_path: Path, module: str | None, imported: str | None,
                                             broken: str | None) -> None:
    """The repository's contracts on a tree of tiny packages wired the allowed way plus one wrong import."""
    shutil.copy(CONFIG, tmp_path / ".importlinter")
    for path, targets in ALLOWED.items():
        (tmp_path / path).parent.mkdir(exist_ok=True)
        (tmp_path / path).parent.joinpath("__init__.py").touch()
        lines = [f"import {target}" for target in targets + ([imported] if path == module and imported else [])]
        (tmp_path / path).write_text("".join(line + "\n" for line in lines))
    result = lint_imports(tmp_path, "--no-cache")
    if broken is None:
        assert result.returncode == 0, result.stdout + result.stderr
    else:
        assert result.returncode != 0, result.stdout
        broken_lines = [line for line in result.stdout.splitlines() if line.endswith("BROKEN")]
        assert len(broken_lines) == 1 and broken_lines[0].startswith(broken), result.stdout
