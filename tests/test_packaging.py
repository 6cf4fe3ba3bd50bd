"""The install story: pyproject.toml and environment.yml list the same packages."""

import re
import tomllib
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
# conda-forge spells a few packages differently from PyPI
CONDA_NAMES = {"python-duckdb": "duckdb"}


def _name(spec: str) -> str:
    return re.split(r"[<>=!~ \[]", spec.strip(), maxsplit=1)[0].lower()


def _pyproject():
    data = tomllib.loads((ROOT / "pyproject.toml").read_text())
    proj = data["project"]
    runtime = {_name(s): s for s in proj["dependencies"]}
    dev = {_name(s): s for s in proj["optional-dependencies"]["dev"]}
    return runtime, dev


def _conda():
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    out = {}
    for dep in env["dependencies"]:
        if isinstance(dep, str):
            name = _name(dep)
            if name in ("python", "pip"):
                continue
            out[CONDA_NAMES.get(name, name)] = dep
    return env, out


def test_environment_matches_pyproject():
    runtime, dev = _pyproject()
    env, conda = _conda()
    assert "conda-forge" in env["channels"]
    want = set(runtime) | set(dev)
    assert set(conda) == want, (
        f"only in pyproject: {sorted(want - set(conda))}; only in environment.yml: {sorted(set(conda) - want)}"
    )


def test_lower_bounds_agree():
    runtime, dev = _pyproject()
    _, conda = _conda()
    for name, spec in {**runtime, **dev}.items():
        lo = re.search(r">=\s*([\w.]+)", spec)
        clo = re.search(r">=\s*([\w.]+)", conda[name])
        assert (lo and lo.group(1)) == (clo and clo.group(1)), f"{name}: {spec!r} vs {conda[name]!r}"


def test_constraints_pin_every_dependency():
    runtime, dev = _pyproject()
    pins = {}
    for line in (ROOT / "constraints.txt").read_text().splitlines():
        if "==" in line:
            name, ver = line.split("==", 1)
            pins[name.strip().lower().replace("_", "-")] = ver.strip()
    missing = [n for n in {**runtime, **dev} if n.replace("_", "-") not in pins]
    assert not missing, f"constraints.txt has no pin for {missing}"


def test_ci_calls_the_readme_test_command():
    readme = (ROOT / "README.md").read_text()
    ci = (ROOT / ".ci" / "run").read_text()
    assert "make test" in readme and "make demo" in readme
    assert "make test" in ci
