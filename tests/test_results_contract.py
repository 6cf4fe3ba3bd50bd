"""The results contract: what the steps record is what the brief reads (cxlab.results.KEYS).

The notebooks (json) and cxlab/brief/sections.py (ast) are parsed, never executed.
"""

import ast
import itertools
import json
import re
from pathlib import Path

import pytest

from cxlab.results import FRAMEWORK_KEYS, KEYS

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = sorted((ROOT / "notebooks").glob("0[0-9]_*.ipynb"))
SECTIONS = ROOT / "cxlab" / "brief" / "sections.py"
BRIEF_MODULES = (SECTIONS, *sorted((ROOT / "cxlab" / "brief").glob("*.py")))  # both read results with _get(results, "NN", "key")


def _code(path: Path) -> list[str]:
    nb = json.loads(path.read_text(encoding="utf-8"))
    return ["".join(c["source"]) for c in nb["cells"] if c["cell_type"] == "code"]


def _parameter_choices(cells: list[str]) -> dict[str, list[str]]:
    """``name: str = "x"  # ...: a | b | c`` in the parameters cell -> {name: [a, b, c]}."""
    out = {}
    for line in cells[0].splitlines():
        m = re.match(r"(\w+)\s*:\s*str\s*=.*#.*?:?\s*(\w+(?:\s*\|\s*\w+)+)\s*$", line)
        if m:
            out[m.group(1)] = [c.strip() for c in m.group(2).split("|")]
    return out


def _recorded_keys(path: Path) -> set[str]:
    """Every key ``ctx.record(key, ...)`` can take, over the parameter choices its expression uses."""
    cells = _code(path)
    choices = _parameter_choices(cells)
    keys = set()
    for tree in (ast.parse(c) for c in cells[1:]):
        for node in ast.walk(tree):
            if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "record"
                    and isinstance(node.func.value, ast.Name) and node.func.value.id == "ctx"):
                expr = node.args[0]
                names = sorted({n.id for n in ast.walk(expr) if isinstance(n, ast.Name)})
                assert all(n in choices for n in names), (
                    f"{path.name}: key {ast.unparse(expr)} depends on {names}, not all parameters with listed choices")
                code = compile(ast.Expression(expr), path.name, "eval")
                for combo in itertools.product(*(choices[n] for n in names)):
                    keys.add(eval(code, {}, dict(zip(names, combo))))  # noqa: S307 (a constant expression)
    return keys


def _const(node):
    return node.value if isinstance(node, ast.Constant) and isinstance(node.value, str) else None


def _step_of(node) -> str | None:
    """The step a ``{key: value}`` expression belongs to: ``ctx.results("S")``, ``res["S"]``, ``res.get("S", ...)``."""
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.args:
        owner = node.func.value
        if node.func.attr == "results" and isinstance(owner, ast.Name) and owner.id == "ctx":
            return _const(node.args[0])
        if node.func.attr == "get" and isinstance(owner, ast.Name) and owner.id == "res":
            return _const(node.args[0])
    if isinstance(node, ast.Subscript) and isinstance(node.value, ast.Name) and node.value.id == "res":
        return _const(node.slice)
    return None


def _notebook_reads(path: Path) -> set[tuple[str, str]]:
    """(step, key) pairs a notebook reads from another step's recorded results."""
    out = set()
    for tree in (ast.parse(c) for c in _code(path)):
        for node in ast.walk(tree):
            if isinstance(node, ast.Subscript):
                step, key = _step_of(node.value), _const(node.slice)
            elif isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "get" \
                    and node.args:
                step, key = _step_of(node.func.value), _const(node.args[0])
            else:
                continue
            if step and key:
                out.add((step, key))
    return out


def _brief_reads() -> set[tuple[str, str]]:
    """(step prefix, key) pairs cxlab/brief/sections.py reads with ``_get(results, "NN", "key")``."""
    out = set()
    for module in BRIEF_MODULES:
        tree = ast.parse(module.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "_get":
                prefix, key = _const(node.args[1]), _const(node.args[2])
                assert prefix and key, f"{module.name}:{node.lineno}: _get with a non-literal step or key"
                out.add((prefix, key))
    return out


def _owner(prefix: str) -> str:
    owners = [step for step in KEYS if step.startswith(prefix)]
    assert len(owners) == 1, f"step prefix {prefix!r} names {owners}, not exactly one step of KEYS"
    return owners[0]


def test_every_step_notebook_has_a_declared_step():
    assert {p.stem for p in NOTEBOOKS} == set(KEYS)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_every_recorded_key_is_declared(path):
    recorded = _recorded_keys(path)
    assert recorded, f"{path.name} records nothing"
    undeclared = recorded - KEYS[path.stem]
    assert not undeclared, f"{path.name} records {sorted(undeclared)}, not in cxlab.results.KEYS[{path.stem!r}]"


def test_every_declared_key_is_recorded():
    # the other direction: KEYS lists nothing that no notebook records
    for path in NOTEBOOKS:
        stale = KEYS[path.stem] - FRAMEWORK_KEYS - _recorded_keys(path)
        assert not stale, f"KEYS[{path.stem!r}] declares {sorted(stale)}, which {path.name} never records"


def test_trend_keys_follow_the_grain_parameter():
    # one spelling in both steps, one key per trend_grain choice (day | week | month)
    assert _recorded_keys(ROOT / "notebooks" / "01_cx_metric.ipynb") >= {"daily", "weekly", "monthly"}
    assert _recorded_keys(ROOT / "notebooks" / "02_operational_kpis.ipynb") >= {"daily", "weekly", "monthly"}


def test_the_brief_module_reads_only_declared_keys():
    reads = _brief_reads()
    assert ("05", "top_drivers") in reads and ("06", "verdict") in reads  # the parser sees the calls
    missing = sorted((p, k) for p, k in reads if k not in KEYS[_owner(p)])
    assert not missing, f"cxlab/brief/sections.py reads undeclared keys: {missing}"


def test_the_notebooks_read_only_declared_keys():
    reads = set()
    for path in NOTEBOOKS:
        reads |= _notebook_reads(path)
    assert ("05_focus", "what_if") in reads  # the parser sees the reads (07 reads through cxlab.brief only)
    missing = sorted((s, k) for s, k in reads if k not in KEYS.get(s, frozenset()))
    assert not missing, f"notebooks read undeclared keys: {missing}"


def test_the_parser_catches_an_undeclared_key(tmp_path):
    # the check can fail: a notebook recording a key KEYS does not declare is reported
    nb = {"cells": [
        {"cell_type": "code", "source": ['grain: str = "day"  # period grain: day | week\n']},
        {"cell_type": "code", "source": ['_ = ctx.record("headline", 1)\n', '_ = ctx.record(f"by_{grain}", 2)\n']},
    ], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}
    path = tmp_path / "01_cx_metric.ipynb"
    path.write_text(json.dumps(nb))
    assert _recorded_keys(path) == {"headline", "by_day", "by_week"}
    assert _recorded_keys(path) - KEYS["01_cx_metric"] == {"by_day", "by_week"}
