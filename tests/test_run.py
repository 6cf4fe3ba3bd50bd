"""Runs: papermill execution, HTML rendering, manifest, failure handling.

These tests execute the tiny notebooks in tests/run_fixtures/ (see
make_fixtures.py there), not the real step notebooks, so the run machinery
is checked on its own. 02_plot's ``fail`` parameter injects the failures.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from cxlab import __version__, results
from cxlab import pipeline as cxrun
from cxlab.config import REPO_ROOT, default_config, load_config
from cxlab.errors import ConfigError, StepError
from cxlab.pipeline import execute as cx_execute
from cxlab.pipeline import manifest as cx_manifest
from cxlab.pipeline.discover import _assigned_names

FIXTURES = Path(__file__).resolve().parent / "run_fixtures"
REAL_NOTEBOOKS = sorted((REPO_ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
STEMS = ["01_data", "02_plot", "03_other", "04_brief"]


@pytest.fixture(scope="module", autouse=True)
def _cache(tmp_path_factory):
    """Keep the scratch run (and the kernels' CXLAB_CACHE) inside the test's tmp dir."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("CXLAB_CACHE", str(tmp_path_factory.mktemp("cache")))
        yield


@pytest.fixture(scope="module")
def good_run(tmp_path_factory):
    reports = tmp_path_factory.mktemp("reports")
    result = cxrun.run(notebooks_dir=FIXTURES, reports_dir=reports, quiet=True)
    return result


def copy_reports(good_run, tmp_path) -> Path:
    """A reports dir holding (a copy of) the good run and its latest pointer."""
    reports = tmp_path / "reports"
    shutil.copytree(good_run.run_dir.parent.parent, reports, symlinks=True)
    return reports


def text_outputs(ipynb: Path) -> list[str]:
    """The text a notebook printed or displayed, cell by cell."""
    nb = nbformat.read(ipynb, as_version=4)
    out = []
    for cell in nb.cells:
        for o in cell.get("outputs", []):
            if o.output_type == "stream":
                out.append(o.text)
            elif "data" in o and "text/plain" in o.data:
                out.append(o.data["text/plain"])
    return out


def body(html_path: Path) -> str:
    text = html_path.read_text(encoding="utf-8")
    return text[text.index("<body") :]


# --------------------------------------------------------------------------- results


def test_results_record_and_load_convert_numpy_and_pandas(tmp_path):
    np = pytest.importorskip("numpy")
    pd = pytest.importorskip("pandas")
    results.record(tmp_path, "05_focus", "r", np.float64(0.25))
    results.record(tmp_path, "05_focus", "n", np.int64(7))
    results.record(tmp_path, "05_focus", "missing", float("nan"))
    results.record(tmp_path, "05_focus", "when", pd.Timestamp("2025-01-02", tz="UTC"))
    frame = pd.DataFrame({"driver": ["wait_s", "aht_s"], "importance": [0.5, np.nan]})
    results.record(tmp_path, "05_focus", "table", frame)
    results.record(tmp_path, "06_validate", "verdict", "holds")
    path = tmp_path / "results" / "05_focus.json"
    assert json.loads(path.read_text()) == {
        "r": 0.25,
        "n": 7,
        "missing": None,
        "when": "2025-01-02T00:00:00+00:00",
        "table": [{"driver": "wait_s", "importance": 0.5}, {"driver": "aht_s", "importance": None}],
    }
    assert results.load(tmp_path, "06_validate") == {"verdict": "holds"}
    assert sorted(results.load(tmp_path)) == ["05_focus", "06_validate"]
    assert not list((tmp_path / "results").glob("*.tmp"))  # atomic writes leave no temp files
    with pytest.raises(results.ResultsMissing, match="no results recorded for step '04_correlate'"):
        results.load(tmp_path, "04_correlate")
    with pytest.raises(TypeError, match="cannot record a value of type object"):
        results.record(tmp_path, "05_focus", "bad", object())
    with pytest.raises(ValueError, match="step must be a plain name"):
        results.record(tmp_path, "../evil", "k", 1)


def test_results_scratch_run_dir_is_used_for_empty_run_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("CXLAB_CACHE", str(tmp_path))
    assert results.scratch_run_dir() == tmp_path / "runs" / "scratch"
    results.record("", "01_cx_metric", "metric", "csat")
    assert results.load(tmp_path / "runs" / "scratch", "01_cx_metric") == {"metric": "csat"}
    assert results.load(None, "01_cx_metric") == {"metric": "csat"}


# --------------------------------------------------------------------------- discovery and parameters


def test_discover_orders_steps_and_expands_dependencies():
    steps = cxrun.discover(FIXTURES)
    assert [s.stem for s in steps] == STEMS
    deps = {s.stem: s.depends_on for s in steps}
    assert deps == {"01_data": (), "02_plot": ("01_data",), "03_other": (), "04_brief": ("01_data", "02_plot", "03_other")}
    assert set(cxrun.COMMON_PARAMETERS) <= set(steps[0].parameters)


def _write_nb(folder: Path, stem: str, depends_on=None):
    nb = nbformat.read(FIXTURES / "03_other.ipynb", as_version=4)
    if depends_on is not None:
        nb.metadata["cxlab"] = {"depends_on": depends_on}
    nbformat.write(nb, folder / f"{stem}.ipynb")


def test_discover_rejects_unknown_dependency_and_cycles(tmp_path):
    _write_nb(tmp_path, "01_a", ["02"])
    _write_nb(tmp_path, "02_b", ["01_a"])
    with pytest.raises(cxrun.DependencyError, match="form a cycle"):
        cxrun.discover(tmp_path)
    _write_nb(tmp_path, "02_b", ["01_aa"])
    with pytest.raises(cxrun.DependencyError, match=r"02_b.ipynb: depends_on names unknown step '01_aa' \(did you mean '01_a'\?\)"):
        cxrun.discover(tmp_path)


def test_unknown_step_parameter_fails_before_any_kernel_starts(tmp_path, monkeypatch):
    import papermill

    def no_kernels(*args, **kwargs):
        raise AssertionError("a kernel was started")

    monkeypatch.setattr(papermill, "execute_notebook", no_kernels)
    reports = tmp_path / "reports"
    cfg = default_config(steps={"02": {"fial": "raise"}})
    with pytest.raises(
        cxrun.ParameterError,
        match=r"02_plot.ipynb: unknown parameter 'fial' \(did you mean 'fail'\?\); the notebook declares \[.*'fail'\]",
    ):
        cxrun.run(cfg, notebooks_dir=FIXTURES, reports_dir=reports, quiet=True)
    cfg = default_config(steps={"02_plto": {"fail": ""}})
    with pytest.raises(cxrun.ParameterError, match=r"unknown step '02_plto' \(did you mean '02_plot'\?\)"):
        cxrun.run(cfg, notebooks_dir=FIXTURES, reports_dir=reports, quiet=True)
    cfg = default_config(steps={"03_other": {"run_dir": "/elsewhere"}})
    with pytest.raises(cxrun.ParameterError, match="'run_dir' is set by the run"):
        cxrun.run(cfg, notebooks_dir=FIXTURES, reports_dir=reports, quiet=True)
    assert not reports.exists()  # no run folder was created


def test_notebook_without_common_block_is_rejected(tmp_path):
    nb = nbformat.read(FIXTURES / "03_other.ipynb", as_version=4)
    params = next(c for c in nb.cells if "parameters" in c.metadata.get("tags", []))
    params.source = "\n".join(line for line in params.source.splitlines() if not line.startswith("grain"))
    nbformat.write(nb, tmp_path / "01_x.ipynb")
    with pytest.raises(cxrun.ParameterError, match=r"01_x.ipynb: the parameters cell does not declare .*\['grain'\]"):
        cxrun.run(notebooks_dir=tmp_path, reports_dir=tmp_path / "reports", quiet=True)


def _help_text(path: Path, capsys) -> str:
    """What ``papermill --help-notebook PATH`` prints (papermill's own function)."""
    import click
    from papermill.inspection import display_notebook_help

    @click.command()
    def cmd():  # pragma: no cover - only its usage line is printed
        pass

    capsys.readouterr()
    with click.Context(cmd) as ctx:
        assert display_notebook_help(ctx, str(path), None) == 0
    return capsys.readouterr().out


@pytest.mark.parametrize(
    "notebook", REAL_NOTEBOOKS + sorted(FIXTURES.glob("[0-9][0-9]_*.ipynb")), ids=lambda p: p.parent.name + "/" + p.name
)
def test_help_notebook_documents_every_parameter(notebook, capsys):
    import papermill

    declared = papermill.inspect_notebook(str(notebook))
    assigned = _assigned_names(nbformat.read(notebook, as_version=4))
    unreadable = [name for name in assigned if name not in declared]
    assert not unreadable, (
        f"papermill cannot read {unreadable} in {notebook.name}'s parameters cell, so --help-notebook "
        "omits them (a parameters line may hold only one '=': keep '=' out of the help comment)"
    )
    missing = [p for p in cxrun.COMMON_PARAMETERS if p not in declared]
    assert not missing, f"{notebook.name} does not declare the common parameters {missing}"
    undocumented = [name for name, p in declared.items() if not p["help"].strip()]
    assert not undocumented, f"{notebook.name}: parameters without a help comment: {undocumented}"
    text = _help_text(notebook, capsys)
    for name, p in declared.items():
        assert name in text and p["help"] in text


def test_papermill_help_notebook_cli_documents_a_fixture():
    exe = Path(sys.executable).with_name("papermill")
    proc = subprocess.run(
        [str(exe), "--help-notebook", str(FIXTURES / "02_plot.ipynb")], capture_output=True, text=True, timeout=120
    )
    assert proc.returncode == 0, proc.stderr
    assert re.search(r"fail: str \(default \"\"\)\s+failure to inject", proc.stdout)
    assert "first day of the analysis window (inclusive)" in proc.stdout


def test_progress_line_format():
    import io

    stream = io.StringIO()
    progress = cx_execute._Progress(7, quiet=False, stream=stream)
    progress.report(cxrun.StepResult("03_other_sources", "03", "ok", seconds=4.21))
    progress.report(cxrun.StepResult("06_validate", "06", "skipped", skipped_because=["04_correlate"]))
    lines = stream.getvalue().splitlines()
    assert re.fullmatch(r"\[1/7\] 03_other_sources \.\.\. ok in 4\.2 s \(elapsed \d+\.\d s\)", lines[0])
    assert lines[1] == "[2/7] 06_validate ... skipped (depends on 04_correlate)"
    quiet = io.StringIO()
    progress = cx_execute._Progress(7, quiet=True, stream=quiet)
    progress.report(cxrun.StepResult("03_other_sources", "03", "ok", seconds=4.21))
    assert quiet.getvalue() == ""


def test_run_ids_sort_by_time():
    import time

    first = cx_manifest.new_run_id()
    time.sleep(0.002)
    second = cx_manifest.new_run_id()
    assert re.fullmatch(r"\d{8}T\d{6}\.\d{3}Z-[0-9a-f]{6}", first)
    assert first < second


def test_latest_pointer_moves_atomically(tmp_path):
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    cx_manifest.point_latest(tmp_path, "a")
    cx_manifest.point_latest(tmp_path, "b")
    assert os.readlink(tmp_path / "latest") == "b"  # relative: the reports folder can move
    assert (tmp_path / "LATEST").read_text() == "b\n"
    assert cxrun.latest_run(tmp_path) == (tmp_path / "b").resolve()
    (tmp_path / "latest").unlink()  # a platform without symlinks still has LATEST
    assert cxrun.latest_run(tmp_path) == tmp_path / "b"
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]


def test_demo_runs_the_default_config(monkeypatch):
    seen = {}
    monkeypatch.setattr(cx_execute, "run", lambda config=None, **kw: seen.update(config=config, **kw) or "done")
    assert cx_execute.demo(jobs=2, quiet=True, reports_dir="r") == "done"
    assert seen == {"config": None, "jobs": 2, "quiet": True, "reports_dir": "r"}


# --------------------------------------------------------------------------- end to end


@pytest.mark.slow
def test_good_run_folder_html_and_manifest(good_run):
    run_dir = good_run.run_dir
    assert good_run.ok and [s.status for s in good_run.steps] == ["ok"] * 4
    for stem in STEMS:
        assert (run_dir / f"{stem}.ipynb").is_file()
        page = body(run_dir / f"{stem}.html")
        text = (run_dir / f"{stem}.html").read_text(encoding="utf-8")
        # code-free: no code inputs, no editor markup, no prompts, no tracebacks
        assert "cm-editor" not in page and "jp-InputPrompt" not in page and 'class="highlight' not in page
        assert "default_rng" not in page and "results.record" not in page and "import " not in page
        assert "Traceback" not in page and "ansi-red-fg" not in page
        # offline: nothing loaded from the network
        assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", text)
        assert "url(http" not in text and "<script src" not in text
        assert "require.js" not in text and "mathjax" not in text.lower()
        # the header: run, window, definitions, version
        assert f"demo / {good_run.run_id}" in page
        assert "2025-01-01 to 2025-12-31 (by day, America/New_York)" in page
        assert "<td>csat</td>" in page and "fcr_window_days" in page and "abandon_treatment" in page
        assert f"<th>cxlab</th><td>{__version__}</td>" in page
    assert "data:image/png;base64," in body(run_dir / "02_plot.html")
    assert "mean of 50 draws" in body(run_dir / "01_data.html")

    manifest = json.loads((run_dir / "manifest.json").read_text())
    assert manifest["run"]["status"] == "ok" and manifest["run"]["run_id"] == good_run.run_id
    assert manifest["failed"] == [] and manifest["skipped"] == []
    assert [s["step"] for s in manifest["steps"]] == STEMS
    assert all(s["status"] == "ok" and s["seconds"] > 0 and s["html"] == s["step"] + ".html" for s in manifest["steps"])
    assert manifest["environment"]["cxlab"] == __version__
    assert {"papermill", "nbconvert", "pandas"} <= set(manifest["environment"]["packages"])
    assert manifest["inputs"] == {"sample": {"seed": 20251, "days": 365, "contacts_per_day": 1000}}
    assert manifest["data_summary"]["row_counts_by_step"] == {"01_data": {"draws": 50}}
    assert manifest["run"]["wall_s"] > 0
    assert load_config(run_dir / "config.yaml").model_dump(exclude={"config_dir"}) == default_config().model_dump(
        exclude={"config_dir"}
    )
    assert not (run_dir / "FAILED").exists()
    name_dir = run_dir.parent
    assert os.readlink(name_dir / "latest") == good_run.run_id
    assert (name_dir / "LATEST").read_text().strip() == good_run.run_id
    # the notebooks got the common block: run_dir is the run folder
    assert results.load(run_dir, "04_brief")["summary"]["steps"] == STEMS[:3]


@pytest.mark.slow
def test_inputs_are_hashed(tmp_path):
    import hashlib

    data = tmp_path / "exports"
    data.mkdir()
    (data / "contacts_1.csv").write_text("a,b\n1,2\n")
    (data / "contacts_2.csv").write_text("a,b\n3,4\n")
    cfg = default_config(
        sources={"interactions": {"path": "exports/contacts_*.csv"}, "surveys": {"path": "nope.csv"}},
        config_dir=str(tmp_path),
    )
    inputs = cx_manifest.run_inputs(cfg)["sources"]
    files = inputs["interactions"]["files"]
    assert [Path(f["path"]).name for f in files] == ["contacts_1.csv", "contacts_2.csv"]
    assert files[0]["sha256"] == hashlib.sha256(b"a,b\n1,2\n").hexdigest()
    assert inputs["surveys"]["missing"] == [str(tmp_path / "nope.csv")]


@pytest.mark.slow
def test_two_runs_give_identical_results_and_jobs_2_matches_serial(good_run, tmp_path, capfd):
    serial = cxrun.run(notebooks_dir=FIXTURES, reports_dir=tmp_path / "serial", quiet=True)
    parallel = cxrun.run(notebooks_dir=FIXTURES, reports_dir=tmp_path / "parallel", jobs=2, quiet=True)
    out, err = capfd.readouterr()
    # quiet prints nothing when nothing fails. A kernel subprocess tearing down
    # under load can print libzmq's own "Assertion failed: ... signaler.cpp"
    # straight to the inherited fd 2 after its work is done; that is not ours.
    err = "\n".join(line for line in err.splitlines() if "signaler.cpp" not in line)
    assert out == "" and err == ""
    for other in (serial, parallel):
        assert other.ok
        assert results.load(other.run_dir) == results.load(good_run.run_dir)
        for stem in STEMS:
            a = (good_run.run_dir / "results" / f"{stem}.json").read_bytes()
            assert (other.run_dir / "results" / f"{stem}.json").read_bytes() == a
            assert text_outputs(other.run_dir / f"{stem}.ipynb") == text_outputs(good_run.run_dir / f"{stem}.ipynb")


@pytest.mark.slow
@pytest.mark.parametrize(
    "fail, ename, jobs, timeout",
    [("raise", "ZeroDivisionError", 1, 600), ("kill", "DeadKernelError", 2, 600), ("sleep", "CellTimeoutError", 2, 10)],
)
def test_failing_step_renders_error_skips_dependents_and_keeps_latest(good_run, tmp_path, fail, ename, jobs, timeout):
    reports = copy_reports(good_run, tmp_path)
    cfg = default_config(steps={"02_plot": {"fail": fail}})
    with pytest.raises(cxrun.RunFailed) as info:
        cxrun.run(cfg, notebooks_dir=FIXTURES, reports_dir=reports, jobs=jobs, timeout=timeout, quiet=True)
    exc = info.value
    assert isinstance(exc, StepError) and exc.notebook == "02_plot.ipynb" and exc.cell == 5
    result = exc.result
    assert {s.step: s.status for s in result.steps} == {
        "01_data": "ok", "02_plot": "failed", "03_other": "ok", "04_brief": "skipped"
    }
    assert result.step("04").skipped_because == ["02_plot"]
    run_dir = result.run_dir
    # the failed step's HTML exists and shows the error first
    page = body(run_dir / "02_plot.html")
    banner = page.index('class="cxlab-error"')
    assert banner < page.index("jp-Cell")
    assert ename in page[banner : banner + 600] and "cell 5" in page[banner : banner + 600]
    assert 'id="papermill-error-cell"' in page  # the "go to the error" anchor, at the failing cell
    assert "data:image/png;base64," in page  # output before the failure is kept
    nb = nbformat.read(run_dir / "02_plot.ipynb", as_version=4)
    assert "This step failed" in nb.cells[0].source and ename in nb.cells[0].source
    assert not (run_dir / "04_brief.html").exists()
    # the folder is marked failed, the manifest says why
    assert "02_plot: cell 5" in (run_dir / "FAILED").read_text()
    manifest = json.loads((run_dir / "manifest.json").read_text())
    assert manifest["run"]["status"] == "failed"
    assert manifest["failed"] == ["02_plot"] and manifest["skipped"] == ["04_brief"]
    step = manifest["steps"][1]
    assert step["error"]["ename"] == ename and step["error"]["cell"] == 5
    assert manifest["steps"][3]["skipped_because"] == ["02_plot"]
    # the earlier good run is untouched and still latest
    name_dir = reports / "demo"
    assert os.readlink(name_dir / "latest") == good_run.run_id
    assert (name_dir / "LATEST").read_text().strip() == good_run.run_id
    assert cxrun.latest_run(name_dir).name == good_run.run_id


@pytest.mark.slow
def test_only_reruns_one_step_into_the_latest_run(good_run, tmp_path):
    reports = copy_reports(good_run, tmp_path)
    run_dir = reports / "demo" / good_run.run_id
    before = {p.name: p.read_bytes() for p in run_dir.glob("0*.*")}
    html_before = (run_dir / "03_other.html").stat().st_mtime_ns
    result = cxrun.run(notebooks_dir=FIXTURES, reports_dir=reports, only="03", quiet=True)
    assert result.ok and result.run_id == good_run.run_id
    assert (run_dir / "03_other.html").stat().st_mtime_ns > html_before
    for name in ("01_data.ipynb", "01_data.html", "02_plot.ipynb", "04_brief.html"):
        assert (run_dir / name).read_bytes() == before[name]
    manifest = json.loads((run_dir / "manifest.json").read_text())
    assert manifest["run"]["status"] == "ok"
    rerun = manifest["reruns"][-1]
    assert rerun["steps"] == ["03_other"] and rerun["status"] == "ok"
    assert rerun["dependents_not_rerun"] == ["04_brief"]
    assert os.readlink(reports / "demo" / "latest") == good_run.run_id

    # a config other than the run's own is refused (the run must stay self-consistent)
    with pytest.raises(ConfigError, match="differs from the one run"):
        cxrun.run(default_config(seed=1), notebooks_dir=FIXTURES, reports_dir=reports, only="03", quiet=True)
    with pytest.raises(cxrun.RunNotFound, match="no run 'nope'"):
        cxrun.run(notebooks_dir=FIXTURES, reports_dir=reports, only="03", run_id="nope", quiet=True)


@pytest.mark.slow
def test_failed_rerun_keeps_the_good_report(good_run, tmp_path):
    reports = copy_reports(good_run, tmp_path)
    run_dir = reports / "demo" / good_run.run_id
    notebooks = tmp_path / "notebooks"
    shutil.copytree(FIXTURES, notebooks)
    nb = nbformat.read(notebooks / "03_other.ipynb", as_version=4)
    nb.cells[-1].source = 'raise RuntimeError("edited and broken")'
    nbformat.write(nb, notebooks / "03_other.ipynb")
    good = {name: (run_dir / name).read_bytes() for name in ("03_other.html", "03_other.ipynb", "results/03_other.json")}
    with pytest.raises(cxrun.RunFailed, match="edited and broken"):
        cxrun.run(notebooks_dir=notebooks, reports_dir=reports, only="03_other", quiet=True)
    for name, data in good.items():
        assert (run_dir / name).read_bytes() == data
    assert "RuntimeError" in (run_dir / "rerun-failed" / "03_other.html").read_text()
    manifest = json.loads((run_dir / "manifest.json").read_text())
    assert manifest["run"]["status"] == "ok" and manifest["steps"][2]["status"] == "ok"
    assert manifest["reruns"][-1]["status"] == "failed" and manifest["reruns"][-1]["kept_previous_artefacts"]
    assert not (run_dir / "FAILED").exists()
    assert not [p for p in run_dir.iterdir() if p.name.startswith(".rerun-backup")]


@pytest.mark.slow
def test_make_notebooks_is_byte_identical_on_rerun(tmp_path, monkeypatch):
    monkeypatch.setenv("CXLAB_CACHE", str(tmp_path / "cache"))
    for stem in ("01_data", "02_plot"):
        shutil.copy(FIXTURES / f"{stem}.ipynb", tmp_path / f"{stem}.ipynb")
    written = cxrun.make_notebooks(tmp_path, quiet=True)
    assert [p.name for p in written] == ["01_data.ipynb", "02_plot.ipynb"]
    first = {p.name: p.read_bytes() for p in written}
    cxrun.make_notebooks(tmp_path, quiet=True)
    assert {p.name: p.read_bytes() for p in written} == first
    nb = nbformat.read(tmp_path / "02_plot.ipynb", as_version=4)
    assert "papermill" not in nb.metadata
    assert not any("papermill" in c.metadata or "execution" in c.metadata for c in nb.cells)
    assert not any("injected-parameters" in c.metadata.get("tags", []) for c in nb.cells)
    assert any("image/png" in o.get("data", {}) for c in nb.cells for o in c.get("outputs", []))
    assert results.load("", "02_plot")["slope"] == results.load("", "01_data")["mean"]
    assert sorted(p.name for p in tmp_path.iterdir() if p.suffix == ".ipynb") == ["01_data.ipynb", "02_plot.ipynb"]


# --------------------------------------------------------------------------- secrets in the run's config copy


def test_config_copy_redacts_secrets_and_keeps_env_references(tmp_path, monkeypatch):
    import yaml

    monkeypatch.setenv("CXLAB_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("CX_DB_PASSWORD", "from-the-environment")
    cfg = default_config(
        sources={
            "interactions": {"path": "postgresql://cx_reader:hunter2@db.example:5432/cc", "format": "duckdb",
                             "table": "calls"},
            "surveys": {"format": "duckdb", "query":
                        "SELECT * FROM read_csv('https://u:s3cr3t-Pw@files.example/s.csv?token=tok-987&x=1') "
                        "WHERE note <> 'password=pw-in-query' AND api_key = 'k-123'"},
            "agents": {"path": "postgresql://cx:${CX_DB_PASSWORD}@db.example/cc", "format": "duckdb"},
        },
        config_dir=str(tmp_path),
    )
    text = cx_manifest.config_yaml(cfg)
    for secret in ("hunter2", "s3cr3t-Pw", "tok-987", "pw-in-query", "k-123"):
        assert secret not in text
    data = yaml.safe_load(text)
    assert data["sources"]["interactions"]["path"] == "postgresql://cx_reader:***@db.example:5432/cc"
    assert data["sources"]["agents"]["path"] == "postgresql://cx:${CX_DB_PASSWORD}@db.example/cc"  # as written
    assert "token=***&x=1" in data["sources"]["surveys"]["query"] and "api_key = '***'" in data["sources"]["surveys"]["query"]
    # the run folder gets the redacted copy; its kernels read the full one, kept outside it (0600)
    run_dir = tmp_path / "reports" / "demo" / "r1"
    run_dir.mkdir(parents=True)
    kernel_cfg = cx_manifest.write_run_config(run_dir, cfg)
    assert (run_dir / "config.yaml").read_text() == text
    assert kernel_cfg != run_dir / "config.yaml" and run_dir not in kernel_cfg.parents
    assert kernel_cfg.stat().st_mode & 0o777 == 0o600
    full = load_config(kernel_cfg)
    assert full.sources["interactions"] == cfg.sources["interactions"] and full.sources["surveys"] == cfg.sources["surveys"]
    assert full.sources["agents"].path == "postgresql://cx:from-the-environment@db.example/cc"  # expanded on load
    assert cx_manifest.run_config_path(run_dir) == kernel_cfg
    # a config without secrets: one copy, in the run folder
    plain = tmp_path / "reports" / "demo" / "r2"
    plain.mkdir()
    assert cx_manifest.write_run_config(plain, default_config()) == plain / "config.yaml"
    assert cx_manifest.run_config_path(plain) == plain / "config.yaml"
    # a deleted run's unredacted copy is removed when the next run writes its own (no credentials left behind)
    import shutil

    r3 = tmp_path / "reports" / "demo" / "r3"
    r3.mkdir()
    shutil.rmtree(run_dir)
    third = cx_manifest.write_run_config(r3, cfg)
    assert not kernel_cfg.exists() and third.is_file()
    assert sorted(p.name for p in third.parent.iterdir()) == [third.name]


def test_default_reports_dir_is_the_working_directorys(tmp_path, monkeypatch):
    from cxlab.pipeline.discover import default_reports_dir

    monkeypatch.chdir(tmp_path)
    assert default_reports_dir() == tmp_path / "reports"  # also in an editable install (REPO_ROOT has notebooks/)
    assert (REPO_ROOT / "notebooks").is_dir()


def test_env_references_are_expanded_on_load_and_kept_in_the_copy(tmp_path, monkeypatch):
    import yaml

    monkeypatch.setenv("CXLAB_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("CXTEST_DB_PASSWORD", "hunter2")
    path = tmp_path / "c.yaml"
    path.write_text("sources:\n  interactions: {path: 'postgresql://cx:${CXTEST_DB_PASSWORD}@db/cc', format: duckdb,"
                    " table: calls}\ntitle: 'Center ${CXTEST_DB_PASSWORD}'\n")
    cfg = load_config(path)
    assert cfg.sources["interactions"].path == "postgresql://cx:hunter2@db/cc"  # what the loader connects with
    text = cx_manifest.config_yaml(cfg)
    assert "hunter2" not in text
    data = yaml.safe_load(text)
    assert data["sources"]["interactions"]["path"] == "postgresql://cx:${CXTEST_DB_PASSWORD}@db/cc"
    assert data["title"] == "Center ${CXTEST_DB_PASSWORD}"
    # the copy reloads to the same config (the kernels expand the reference again)
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    assert cx_manifest.write_run_config(run_dir, cfg) == run_dir / "config.yaml"  # nothing literal to hide
    again = load_config(run_dir / "config.yaml")
    assert again.model_dump(exclude={"config_dir"}) == cfg.model_dump(exclude={"config_dir"})
    monkeypatch.delenv("CXTEST_DB_PASSWORD")
    with pytest.raises(ConfigError, match=r"sources.interactions.path refers to the environment variable "
                                          r"\$\{CXTEST_DB_PASSWORD\}, which is not set"):
        load_config(path)
