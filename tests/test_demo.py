"""End to end: `cxlab demo` on the real notebooks and the embedded sample.

One demo run is shared by every test in this module (it is the slow part).
The SMTP password is in the environment during the run, so the secret-leak
test can prove no file of the run folder holds it.
"""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest

from cxlab.brief import privacy_scan

SECRET = "pw-Zq8!never-in-a-report"
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def demo_run(tmp_path_factory):
    from cxlab import pipeline as runner

    reports = tmp_path_factory.mktemp("reports")
    mp = pytest.MonkeyPatch()
    mp.setenv("CXLAB_SMTP_PASSWORD", SECRET)
    try:
        result = runner.run(config=None, reports_dir=reports, jobs=2, quiet=True)
    finally:
        mp.undo()
    return result


def test_demo_succeeds_and_moves_latest(demo_run):
    assert demo_run.status == "ok", demo_run
    run_dir = Path(demo_run.run_dir)
    latest = run_dir.parent / "latest"
    assert latest.resolve() == run_dir.resolve()
    manifest = json.loads((run_dir / "manifest.json").read_text())
    assert manifest["run"]["status"] == "ok"
    steps = {s["step"]: s["status"] for s in manifest["steps"]}
    assert sorted(steps) == sorted(p.stem for p in (run_dir).glob("0*.ipynb"))
    assert set(steps.values()) == {"ok"} and len(steps) == 7
    counts = {r["table"]: r for r in manifest["data_summary"]["row_counts"]}
    inter = counts["interactions"]
    assert inter["rows_read"] == inter["rows_accepted"] + inter["rows_quarantined"] > 300_000
    assert manifest["run"]["wall_s"] > 0 and all(s["seconds"] > 0 for s in manifest["steps"])


def test_every_html_is_code_free_offline_and_embeds_images(demo_run):
    run_dir = Path(demo_run.run_dir)
    htmls = sorted(run_dir.glob("0*.html"))
    assert [h.name[:2] for h in htmls] == ["01", "02", "03", "04", "05", "06", "07"]
    for h in htmls:
        text = h.read_text(encoding="utf-8")
        assert "Traceback" not in text and "Error</span>" not in text, h.name
        # no code cell inputs (the inlined CSS names these classes; the markup must not use them)
        assert not re.search(r'class="[^"]*(jp-InputArea-editor|jp-CodeMirrorEditor|hl-ipython3|input_area)', text), h.name
        assert not re.search(r'(src|href)="(https?:)?//', text), h.name
        assert "data:image/png;base64," in text, f"{h.name} has no embedded plot"


def test_no_customer_ids_or_comments_in_any_html(demo_run, sample):
    run_dir = Path(demo_run.run_dir)
    ids = sample["surveys"]["customer_id"].unique().tolist()
    hits = privacy_scan(run_dir, ids)
    assert hits.empty, hits.head()
    comments = [c for c in sample["surveys"]["comment"].dropna().unique() if len(c) > 12][:50]
    assert privacy_scan(run_dir, comments).empty


def test_smtp_password_leaves_no_trace(demo_run):
    run_dir = Path(demo_run.run_dir)
    assert privacy_scan(run_dir, [SECRET], pattern="*").empty


def test_brief_opens_offline_in_chromium(demo_run, tmp_path):
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if not chromium:
        pytest.skip("Debian chromium not installed (make test installs it as root)")
    from playwright.sync_api import sync_playwright

    brief = Path(demo_run.run_dir) / "07_brief.html"
    failed, external, console_errors = [], [], []
    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=chromium,
            args=["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync"],
        )
        page = browser.new_page(viewport={"width": 1100, "height": 1400})
        page.on("requestfailed", lambda r: failed.append(r.url))
        page.on("request", lambda r: external.append(r.url) if not r.url.startswith(("file:", "data:")) else None)
        page.on("console", lambda m: console_errors.append(m.text) if m.type == "error" else None)
        page.goto(brief.as_uri(), wait_until="load")
        page.screenshot(path=str(tmp_path / "brief.png"), full_page=True)
        pdf_ok = True
        try:
            page.pdf(path=str(tmp_path / "brief.pdf"), format="A4")
        except Exception:  # headful-only builds cannot print; the screenshot still counts
            pdf_ok = False
        browser.close()
    assert not failed, failed
    assert not external, external
    assert not console_errors, console_errors
    assert (tmp_path / "brief.png").stat().st_size > 10_000
    if pdf_ok:
        assert (tmp_path / "brief.pdf").stat().st_size > 10_000


def test_brief_says_what_moved_since_the_previous_good_run(demo_run):
    """A fabricated earlier run whose CX headline was 10 points lower: re-rendering
    the brief must name the move (and only compare with runs whose status is ok)."""
    from cxlab import pipeline as runner

    run_dir = Path(demo_run.run_dir)
    prev = run_dir.parent / "00000000T000000.000Z-prev00"
    shutil.copytree(run_dir, prev, symlinks=True)
    path = prev / "results" / "01_cx_metric.json"
    rec = json.loads(path.read_text())
    for key in ("value", "ci_low", "ci_high"):
        rec["headline"][key] -= 10.0
    path.write_text(json.dumps(rec))
    failed = run_dir.parent / "00000000T000001.000Z-fail00"  # newer, but failed: must be ignored
    shutil.copytree(prev, failed, symlinks=True)
    man = json.loads((failed / "manifest.json").read_text())
    man["run"]["status"] = "failed"
    (failed / "manifest.json").write_text(json.dumps(man))

    runner.run(config=None, reports_dir=run_dir.parent.parent, only="07", quiet=True)
    text = re.sub(r"<[^>]+>", " ", (run_dir / "07_brief.html").read_text(encoding="utf-8"))
    # the brief's previous-vs-now table (issue 18): the headline rose 10 points, beyond the combined margin
    after = text[text.index("5. What changed since the last run"):]
    assert "Previous run" in after and "→ this run" in after
    assert re.search(r"CSAT headline\s+\d+\.\d%.*?↑ \+10\.0 points · beyond noise", after, re.S), after[:600]


def test_run_on_own_exports_without_a_pilot(tmp_path):
    """`cxlab run CONFIG` on exported files (not the embedded sample) and with no
    pilot configured: every step succeeds, step 6 says the readout was skipped and
    sizes the next pilot from history, and the brief says no verdict is available."""
    from click.testing import CliRunner

    from cxlab.cli import main
    from cxlab.sample import write_sample

    data = tmp_path / "exports"
    write_sample(data)
    files = {p.stem: p.name for p in data.glob("*.parquet")}
    sources = "".join(f"  {name}: {{path: exports/{fname}}}\n" for name, fname in sorted(files.items()))
    cfg = tmp_path / "center.yaml"
    cfg.write_text(f"name: center\ntimezone: America/New_York\nsources:\n{sources}")
    res = CliRunner().invoke(main, ["run", str(cfg), "--jobs", "2", "--quiet", "--reports-dir", str(tmp_path / "reports")])
    assert res.exit_code == 0, res.output
    latest = (tmp_path / "reports" / "center" / "latest").resolve()
    manifest = json.loads((latest / "manifest.json").read_text())
    assert {s["status"] for s in manifest["steps"]} == {"ok"}
    assert set(manifest["inputs"]["sources"]) == set(files)
    step6 = re.sub(r"<[^>]+>", " ", (latest / "06_validate.html").read_text(encoding="utf-8"))
    # exports on disk carry no pilot assignment: the pilot sections skip with a note saying what to set
    assert "no pilot assignment is configured (set pilot_treated" in step6
    assert "Skipped — The pilot: treated vs control teams" in step6
    brief = re.sub(r"<[^>]+>", " ", (latest / "07_brief.html").read_text(encoding="utf-8"))
    assert "The pilot was not read out in this run" in brief  # the brief derives no verdict
