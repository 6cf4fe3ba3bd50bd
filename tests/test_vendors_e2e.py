"""Vendor-shaped exports run end to end: `cxlab validate` then `cxlab run`, exit 0, a brief.

The fixtures in ``tests/fixtures/vendors/`` are small synthetic files shaped
like real exports (field names from public vendor documentation; see
``docs/mapping.md`` and ``make_fixtures.py``). Each is mapped by its own
``config.yaml`` without SQL. A run must finish with a brief whatever the
export lacks, and the brief must name the sections that were skipped.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

pytestmark = pytest.mark.slow

VENDORS = Path(__file__).parent / "fixtures" / "vendors"
SHAPES = sorted(p.name for p in VENDORS.iterdir() if (p / "config.yaml").exists()) if VENDORS.exists() else []


def _cli(*args, cwd):
    return subprocess.run([sys.executable, "-m", "cxlab.cli", *args], capture_output=True, text=True, cwd=cwd,
                          timeout=900)


@pytest.mark.parametrize("shape", SHAPES)
def test_vendor_export_runs_end_to_end(shape, tmp_path):
    work = tmp_path / shape
    shutil.copytree(VENDORS / shape, work)
    cfg = work / "config.yaml"
    val = _cli("validate", str(cfg), cwd=work)
    assert val.returncode == 0, f"validate {shape}:\n{val.stdout[-2000:]}\n{val.stderr[-2000:]}"
    res = _cli("run", str(cfg), "--reports-dir", str(tmp_path / "reports"), "--jobs", "2", "--quiet", cwd=work)
    assert res.returncode == 0, f"run {shape}:\n{res.stdout[-3000:]}\n{res.stderr[-3000:]}"
    name = yaml.safe_load(cfg.read_text())["name"]
    run_dir = (tmp_path / "reports" / name / "latest").resolve()
    brief = run_dir / "07_brief.html"
    assert brief.exists()
    for html in run_dir.glob("*.html"):
        assert "Traceback" not in html.read_text(encoding="utf-8"), f"traceback in {html.name}"
    skipped = []
    for path in (run_dir / "results").glob("*.json"):
        skipped += json.loads(path.read_text()).get("skipped", [])
    if skipped:  # every export here lacks something the sample has; the brief says what
        assert "kipped" in brief.read_text(encoding="utf-8")
