"""The import graph is a contract: pyproject.toml's [tool.importlinter], checked by lint-imports.

The contract itself is tested: a copy of it, pointed at a throw-away package with
one module per layer, passes when every import goes down and FAILS when a lower
layer imports a higher one (or plots imports a step package).
"""

import os
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
LINT = Path(sys.executable).with_name("lint-imports")
FAKE = "fakecx"

pytestmark = pytest.mark.skipif(not LINT.exists(), reason="import-linter is not installed (dev extras)")


def _config() -> dict:
    return tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]


def _rename(value):
    if isinstance(value, list):
        return [_rename(v) for v in value]
    return value.replace("cxlab", FAKE) if isinstance(value, str) else value


def _modules(cfg: dict) -> set[str]:
    """Every module the contracts name (layers split on ``|`` / ``:``)."""
    out = set()
    for contract in cfg["contracts"]:
        for key in ("layers", "source_modules", "forbidden_modules"):
            for entry in contract.get(key, []):
                out |= {m.strip() for m in entry.replace(":", "|").split("|")}
    return out


def _lint(cwd: Path, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(cwd)}
    return subprocess.run([str(LINT), "--no-cache", *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=120)


def _fake_repo(tmp_path: Path, imports: dict[str, str]) -> Path:
    """The real contract as an INI file over an empty package ``fakecx``; ``imports``: {module: imported}."""
    cfg = _config()
    pkg = tmp_path / FAKE
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    for mod in _modules(cfg):
        assert mod.startswith("cxlab."), mod
        tail = mod.split(".", 1)[1]
        (pkg / tail).mkdir()
        line = f"import {imports[tail].replace('cxlab', FAKE)}\n" if tail in imports else ""
        (pkg / tail / "__init__.py").write_text(line)
    lines = ["[importlinter]", f"root_package = {FAKE}", ""]
    for i, contract in enumerate(cfg["contracts"]):
        lines.append(f"[importlinter:contract:{i}]")
        for key, value in contract.items():
            value = _rename(value)
            lines.append(f"{key} =" + "".join(f"\n    {v}" for v in value) if isinstance(value, list)
                         else f"{key} = {value}")
        lines.append("")
    (tmp_path / ".importlinter").write_text("\n".join(lines))
    return tmp_path


def test_contract_names_every_cxlab_package():
    # a new package must be placed in a layer (or in the plots rule) deliberately
    named = {m.split(".")[1] for m in _modules(_config())}
    on_disk = {p.stem if p.suffix == ".py" else p.name
               for p in (ROOT / "cxlab").iterdir()
               if (p.suffix == ".py" and p.stem != "__init__") or (p / "__init__.py").exists()}
    assert on_disk - named == set(), f"packages in no contract: {sorted(on_disk - named)}"


def test_downward_imports_pass(tmp_path):
    repo = _fake_repo(tmp_path, {"brief": "cxlab.results", "focus": "cxlab.kpis", "kpis": "cxlab.data",
                                 "config": "cxlab.errors", "plots": "cxlab.config", "cli": "cxlab.pipeline"})
    out = _lint(repo)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "2 kept, 0 broken" in out.stdout


@pytest.mark.parametrize("importer, imported", [
    ("data", "cxlab.focus"),         # a lower layer importing a higher one
    ("errors", "cxlab.config"),      # the bottom importing the level above it
    ("metric", "cxlab.kpis"),        # two independent step packages
    ("results", "cxlab.brief"),      # the records importing their reader
])
def test_an_upward_import_fails(tmp_path, importer, imported):
    out = _lint(_fake_repo(tmp_path, {importer: imported}))
    assert out.returncode != 0, out.stdout
    assert "BROKEN" in out.stdout and f"{FAKE}.{importer} -> {imported.replace('cxlab', FAKE)}" in out.stdout


def test_plots_importing_a_step_package_fails(tmp_path):
    out = _lint(_fake_repo(tmp_path, {"plots": "cxlab.focus"}))
    assert out.returncode != 0
    assert "1 kept, 1 broken" in out.stdout


def test_the_repo_keeps_its_contracts():
    out = _lint(ROOT)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "0 broken" in out.stdout
