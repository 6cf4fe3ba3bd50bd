"""Chaos: a run stopped by SIGTERM / SIGINT, a full disk or a read-only folder fails cleanly.

After each: the run folder holds ``FAILED`` and a manifest with status
"failed" (the finished steps recorded as finished), every ``.ipynb`` and
``.json`` in it parses, no temporary file is left, ``latest`` still points at
the earlier good run, and the command printed one line, no traceback.

The runs use the tiny notebooks of tests/run_fixtures (02_plot's ``fail``
parameter hangs a cell with ``sleep``) on a 7-day sample of 50 contacts a day.
"""

from __future__ import annotations

import errno
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import nbformat
import pytest
from click.testing import CliRunner

from cxlab import pipeline as cxrun
from cxlab.cli import main
from cxlab.config import default_config
from cxlab.pipeline import manifest as cx_manifest
from cxlab.pipeline import safety

FIXTURES = Path(__file__).resolve().parent / "run_fixtures"
TINY = {"days": 7, "contacts_per_day": 50}
CONFIG = """\
name: chaos
sample: {days: 7, contacts_per_day: 50}
window: {start: 2025-01-01, end: 2025-01-07}
steps: {"02_plot": {fail: %s}}
"""


@pytest.fixture(scope="module", autouse=True)
def _cache(tmp_path_factory):
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("CXLAB_CACHE", str(tmp_path_factory.mktemp("cache")))
        yield


@pytest.fixture(scope="module")
def notebooks(tmp_path_factory) -> Path:
    """Three of the fixture steps: 01_data, 02_plot (depends on 01, hangs with fail=sleep), 03_other."""
    folder = tmp_path_factory.mktemp("notebooks")
    for stem in ("01_data", "02_plot", "03_other"):
        shutil.copy(FIXTURES / f"{stem}.ipynb", folder / f"{stem}.ipynb")
    return folder


@pytest.fixture(scope="module")
def good_reports(tmp_path_factory):
    """A reports folder where 'latest' points at an earlier good run of the 'chaos' config."""
    base = tmp_path_factory.mktemp("good")
    good_id = "20250101T000000.000Z-000000"
    run_dir = base / "chaos" / good_id
    run_dir.mkdir(parents=True)
    (run_dir / "manifest.json").write_text(json.dumps(
        {"run": {"run_id": good_id, "status": "ok", "started_at": "2025-01-01T00:00:00.000000+00:00"}}))
    (run_dir / "01_data.html").write_text("<html>the good report</html>")
    cx_manifest.point_latest(base / "chaos", good_id)
    return base, good_id


def _reports(good_reports, tmp_path) -> tuple[Path, str]:
    base, good_id = good_reports
    reports = tmp_path / "reports"
    shutil.copytree(base, reports, symlinks=True)
    return reports, good_id


def _new_runs(reports: Path, good_id: str) -> list[Path]:
    return [p for p in (reports / "chaos").iterdir() if p.is_dir() and not p.is_symlink() and p.name != good_id]


def _new_run(reports: Path, good_id: str) -> Path:
    runs = _new_runs(reports, good_id)
    assert len(runs) == 1, runs
    return runs[0]


def assert_failed_cleanly(reports: Path, good_id: str, stderr: str, *, finished=("01_data",)) -> dict:
    """The invariants every stopped run must meet; returns its manifest."""
    run_dir = _new_run(reports, good_id)
    manifest = json.loads((run_dir / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["run"]["status"] == "failed"
    assert (run_dir / "FAILED").is_file()
    status = {s["step"]: s["status"] for s in manifest["steps"]}
    for stem in finished:
        assert status.get(stem) == "ok", status
        assert (run_dir / f"{stem}.html").is_file()
    for nb in run_dir.rglob("*.ipynb"):
        nbformat.validate(nbformat.read(nb, as_version=4))
    for js in run_dir.rglob("*.json"):
        json.loads(js.read_text(encoding="utf-8"))
    assert safety.temp_files(reports) == []
    name_dir = reports / "chaos"
    assert os.readlink(name_dir / "latest") == good_id
    assert (name_dir / "LATEST").read_text().strip() == good_id
    assert not (name_dir / good_id / "FAILED").exists()
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: "), stderr
    assert "Traceback" not in stderr
    return manifest


def _kernels_of(pid: int) -> list[int]:
    """Live child processes of ``pid`` (its kernels), from /proc."""
    out = []
    for d in Path("/proc").iterdir():
        if d.name.isdigit():
            try:
                stat = (d / "stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                out.append(int(d.name))
    return out


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")
@pytest.mark.parametrize("sig, jobs", [(signal.SIGTERM, 1), (signal.SIGINT, 2)])
def test_signal_during_a_step_marks_the_run_failed(good_reports, notebooks, tmp_path, sig, jobs):
    reports, good_id = _reports(good_reports, tmp_path)
    cfg = tmp_path / "chaos.yaml"
    cfg.write_text(CONFIG % "sleep")
    cli = Path(sys.executable).parent / "cxlab"
    proc = subprocess.Popen(
        [str(cli), "run", str(cfg), "--notebooks-dir", str(notebooks), "--reports-dir", str(reports),
         "--quiet", "--jobs", str(jobs)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=tmp_path,
    )
    try:
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:  # the first step finished and the second (hanging) one started
            runs = _new_runs(reports, good_id)
            if (runs and (runs[0] / "01_data.html").exists() and (runs[0] / "02_plot.ipynb").exists()
                    and _kernels_of(proc.pid)):
                break
            assert proc.poll() is None, proc.communicate()
            time.sleep(0.1)
        else:
            pytest.fail("the run did not reach step 02 in time")
        time.sleep(1.0)  # inside the hanging cell
        kernels = _kernels_of(proc.pid)
        proc.send_signal(sig)
        out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 128 + sig, (proc.returncode, err)
    assert out == ""
    manifest = assert_failed_cleanly(reports, good_id, err)
    assert f"interrupted by {signal.Signals(sig).name}" in err
    assert manifest["run"]["interrupted"] == signal.Signals(sig).name
    step2 = next(s for s in manifest["steps"] if s["step"] == "02_plot")
    assert step2["status"] == "failed" and step2["error"]["ename"] == "RunInterrupted"
    recorded = {s["step"] for s in manifest["steps"]} | set(manifest.get("not_run", []))
    assert recorded == {"01_data", "02_plot", "03_other"}
    if jobs == 1:
        assert manifest["not_run"] == ["03_other"]
    run_dir = _new_run(reports, good_id)
    assert "interrupted by" in (run_dir / "FAILED").read_text()
    nb = nbformat.read(run_dir / "02_plot.ipynb", as_version=4)
    assert "This step failed" in nb.cells[0].source
    assert kernels
    deadline = time.monotonic() + 5
    while _alive(kernels) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not _alive(kernels)  # the kernels were shut down, not left behind


def _alive(pids: list[int]) -> list[int]:
    out = []
    for k in pids:
        try:
            stat = Path(f"/proc/{k}/stat").read_text()
        except OSError:
            continue
        if stat.rsplit(")", 1)[1].split()[0] != "Z":  # a zombie is gone (only its exit status remains)
            out.append(k)
    return out


def _fail_writes(monkeypatch, match: str, exc: OSError):
    """Every atomic write whose target name contains ``match`` fails at fsync (as a full disk does)."""
    real = os.fsync

    def fsync(fd):
        target = os.readlink(f"/proc/self/fd/{fd}") if Path(f"/proc/self/fd/{fd}").exists() else ""
        if match in Path(target).name:
            raise exc
        return real(fd)

    monkeypatch.setattr(os, "fsync", fsync)


@pytest.mark.skipif(not Path("/proc/self/fd").is_dir(), reason="needs /proc to map a descriptor to its file")
def test_disk_full_during_a_step(good_reports, notebooks, tmp_path, monkeypatch):
    reports, good_id = _reports(good_reports, tmp_path)
    cfg = tmp_path / "chaos.yaml"
    cfg.write_text(CONFIG % '""')
    _fail_writes(monkeypatch, "02_plot", OSError(errno.ENOSPC, "No space left on device"))
    res = CliRunner().invoke(main, ["run", str(cfg), "--notebooks-dir", str(notebooks),
                                    "--reports-dir", str(reports), "--quiet"])
    assert res.exit_code == 1, res.output
    assert res.stdout == ""
    manifest = assert_failed_cleanly(reports, good_id, res.stderr)
    assert "02_plot" in res.stderr and "No space left on device (ENOSPC)" in res.stderr
    assert "No space left" in manifest["run"]["stopped"]
    run_dir = _new_run(reports, good_id)
    assert not (run_dir / "02_plot.html").exists()  # nothing half-written stands in for the report
    assert "No space left on device" in (run_dir / "FAILED").read_text()


@pytest.mark.skipif(not Path("/proc/self/fd").is_dir(), reason="needs /proc to map a descriptor to its file")
def test_unwritable_step_report_simulated_read_only(good_reports, notebooks, tmp_path, monkeypatch):
    """A file of the run that may not be written (EACCES at the rename, as in a read-only folder)."""
    reports, good_id = _reports(good_reports, tmp_path)
    real = os.replace

    def replace(src, dst, *a, **kw):
        if Path(dst).name == "02_plot.html":
            raise PermissionError(errno.EACCES, "Permission denied", str(dst))
        return real(src, dst, *a, **kw)

    monkeypatch.setattr(os, "replace", replace)
    cfg = tmp_path / "chaos.yaml"
    cfg.write_text(CONFIG % '""')
    res = CliRunner().invoke(main, ["run", str(cfg), "--notebooks-dir", str(notebooks),
                                    "--reports-dir", str(reports), "--quiet"])
    assert res.exit_code == 1, res.output
    assert_failed_cleanly(reports, good_id, res.stderr)
    assert "cannot write" in res.stderr and "02_plot.html: Permission denied (EACCES)" in res.stderr


@pytest.mark.skipif(not Path("/proc/self/fd").is_dir(), reason="needs /proc to map a descriptor to its file")
def test_folder_that_turns_read_only_mid_run_never_looks_good(good_reports, notebooks, tmp_path, monkeypatch):
    """Once step 2 starts, nothing in the run folder can be written: FAILED (written first) stays."""
    reports, good_id = _reports(good_reports, tmp_path)
    import tempfile

    real = tempfile.mkstemp
    state = {"ro": False}

    def mkstemp(*a, **kw):
        name = kw.get("prefix", "")
        if name.startswith(".02_plot"):
            state["ro"] = True
        if state["ro"] and str(kw.get("dir", "")).startswith(str(reports)):
            raise OSError(errno.EROFS, "Read-only file system")
        return real(*a, **kw)

    monkeypatch.setattr(tempfile, "mkstemp", mkstemp)
    monkeypatch.setattr(Path, "touch", lambda self, *a, **k: (_ for _ in ()).throw(OSError(errno.EROFS, "ro")))
    res = CliRunner().invoke(main, ["run", str(CONFIG_FILE(tmp_path, '""')), "--notebooks-dir", str(notebooks),
                                    "--reports-dir", str(reports), "--quiet"])
    assert res.exit_code == 1, res.output
    run_dir = _new_run(reports, good_id)
    manifest = json.loads((run_dir / "manifest.json").read_text())
    assert manifest["run"]["status"] == "running"  # could not be rewritten ...
    assert "has not finished" in (run_dir / "FAILED").read_text()  # ... but the folder is marked failed
    assert cxrun.latest_run(reports / "chaos").name == good_id
    assert safety.temp_files(reports) == []
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1 and "Read-only file system (EROFS)" in lines[0]


def CONFIG_FILE(tmp_path: Path, fail: str) -> Path:  # noqa: N802
    cfg = tmp_path / "chaos.yaml"
    cfg.write_text(CONFIG % fail)
    return cfg


def test_read_only_reports_folder(good_reports, notebooks, tmp_path):
    if os.geteuid() == 0:
        pytest.skip("running as root: chmod does not stop root from writing; the simulated "
                    "read-only tests above cover the code path")
    reports, good_id = _reports(good_reports, tmp_path)
    name_dir = reports / "chaos"
    name_dir.chmod(0o555)
    try:
        res = CliRunner().invoke(main, ["run", str(CONFIG_FILE(tmp_path, '""')), "--notebooks-dir", str(notebooks),
                                        "--reports-dir", str(reports), "--quiet"])
    finally:
        name_dir.chmod(0o755)
    assert res.exit_code == 1
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1 and "Permission denied" in lines[0] and "Traceback" not in res.stderr
    assert sorted(p.name for p in name_dir.iterdir() if p.is_dir() and not p.is_symlink()) == [good_id]
    assert os.readlink(name_dir / "latest") == good_id


def test_write_error_is_one_line():
    exc = safety.write_error(OSError(errno.ENOSPC, "No space left on device"), "r/05_focus.ipynb")
    assert str(exc) == "cannot write r/05_focus.ipynb: No space left on device (ENOSPC)"
    wrapped = RuntimeError("papermill could not save")
    wrapped.__cause__ = PermissionError(errno.EACCES, "Permission denied", "r/x.html")
    assert str(safety.write_error(wrapped)) == "cannot write r/x.html: Permission denied (EACCES)"
    assert safety.write_error(OSError(errno.ENOENT, "No such file")) is None


# --------------------------------------------------------------------------- latest ordering


def _fake_run(name_dir: Path, run_id: str, started_at: str) -> None:
    d = name_dir / run_id
    d.mkdir(parents=True)
    (d / "manifest.json").write_text(json.dumps({"run": {"run_id": run_id, "started_at": started_at}}))


def test_latest_only_moves_to_a_run_that_started_later(tmp_path):
    name_dir = tmp_path / "demo"
    _fake_run(name_dir, "b-later", "2026-01-01T10:00:05.000001+00:00")
    _fake_run(name_dir, "a-earlier", "2026-01-01T10:00:05+00:00")
    assert cx_manifest.point_latest_if_newer(name_dir, "b-later", "2026-01-01T10:00:05.000001+00:00")
    # the earlier run finishes last: latest stays (run ids are compared by start time, not by name)
    assert not cx_manifest.point_latest_if_newer(name_dir, "a-earlier", "2026-01-01T10:00:05+00:00")
    assert os.readlink(name_dir / "latest") == "b-later"
    _fake_run(name_dir, "c-newest", "2026-01-01T10:00:06+00:00")
    assert cx_manifest.point_latest_if_newer(name_dir, "c-newest", "2026-01-01T10:00:06+00:00")
    assert cxrun.latest_run(name_dir).name == "c-newest"


OVERLAP_A = """\
import sys, time
from pathlib import Path
from cxlab import pipeline
from cxlab.config import default_config
from cxlab.pipeline import execute

real = execute._run_steps

def slow(*args, **kwargs):  # A's steps end only once run B has finished: the overlap, made deterministic
    out = real(*args, **kwargs)
    while not Path(sys.argv[2]).exists():
        time.sleep(0.05)
    return out

execute._run_steps = slow
cfg = default_config(name="overlap", sample={"days": 7, "contacts_per_day": 50})
r = pipeline.run(cfg, notebooks_dir=sys.argv[3], reports_dir=sys.argv[1], quiet=True, run_id="A-started-first")
print(r.run_id)
"""


def test_two_overlapping_runs_latest_ends_at_the_later_start(tmp_path):
    one = tmp_path / "notebooks"
    one.mkdir()
    shutil.copy(FIXTURES / "01_data.ipynb", one / "01_data.ipynb")
    """Run A starts, run B starts while A runs, B finishes first, A finishes last: latest stays at B."""
    reports = tmp_path / "reports"
    script = tmp_path / "run_a.py"
    script.write_text(OVERLAP_A)
    first = subprocess.Popen([sys.executable, str(script), str(reports), str(tmp_path / "b-done"), str(one)],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 60
        while not (reports / "overlap" / "A-started-first" / "manifest.json").exists():
            assert first.poll() is None and time.monotonic() < deadline, first.communicate()
            time.sleep(0.05)
        b = cxrun.run(default_config(name="overlap", sample=TINY), notebooks_dir=one, reports_dir=reports,
                      quiet=True, run_id="B-started-second")
        assert b.ok and cxrun.latest_run(reports / "overlap").name == "B-started-second"
        (tmp_path / "b-done").touch()
        out, err = first.communicate(timeout=120)
    finally:
        if first.poll() is None:
            first.kill()
    assert first.returncode == 0, err
    assert out.strip() == "A-started-first"
    a = json.loads((reports / "overlap" / "A-started-first" / "manifest.json").read_text())["run"]
    b = json.loads((reports / "overlap" / "B-started-second" / "manifest.json").read_text())["run"]
    assert a["status"] == b["status"] == "ok"
    assert a["started_at"] < b["started_at"] and a["finished_at"] > b["finished_at"]  # A started first, ended last
    assert cxrun.latest_run(reports / "overlap").name == "B-started-second"
    assert (reports / "overlap" / "LATEST").read_text().strip() == "B-started-second"
