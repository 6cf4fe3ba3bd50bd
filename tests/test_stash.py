"""The run's stash of validated tables (cxlab.data.stash) and the contact frame computed once per run.

A run validates every table once and stashes it under ``<run_dir>/.tables``;
``nb.setup`` reads the stash when its key still matches, else loads as
before. Everything here uses a 7-day sample (60 contacts a day) so that the
file runs in well under a minute.
"""

from __future__ import annotations

import io
import json
import os
import zipfile
from pathlib import Path

import nbformat
import pandas as pd
import pytest
from nbformat.v4 import new_code_cell, new_notebook

from cxlab import data, nb, sources
from cxlab.config import RunConfig, Source, default_config
from cxlab.data import stash
from cxlab.errors import RunFailed
from cxlab.pipeline import execute as cx_execute
from cxlab.pipeline import manifest as cx_manifest
from cxlab.sample.write import write_sample

DAYS, PER_DAY = 7, 60
#: interaction rows whose wait_s the fixture overwrites with text that is not a number
BROKEN_ROWS = (3, 17, 42)


@pytest.fixture(autouse=True)
def _cache(tmp_path, monkeypatch):
    monkeypatch.setenv("CXLAB_CACHE", str(tmp_path / "cache"))
    monkeypatch.setattr(nb, "_DATASETS", {})
    yield
    sources.use_cache(None)


@pytest.fixture(scope="module")
def csv_config(tmp_path_factory) -> RunConfig:
    """The sample written as CSV files, with three interactions whose wait_s is 'abc' (quarantined)."""
    folder = tmp_path_factory.mktemp("exports")
    paths = write_sample(folder, days=DAYS, contacts_per_day=PER_DAY, format="csv")
    inter = pd.read_csv(paths["interactions"], dtype=str, keep_default_na=False)
    inter.loc[list(BROKEN_ROWS), "wait_s"] = "abc"
    inter.to_csv(paths["interactions"], index=False)
    tables = ("interactions", "surveys", "agents", "staffing", "customers")  # 7 days: no QA scores yet
    return RunConfig(sources={t: Source(path=str(paths[t])) for t in tables})


def _assert_same_dataset(a, b) -> None:
    assert list(a.tables) == list(b.tables)
    for name in a.tables:
        pd.testing.assert_frame_equal(a.tables[name], b.tables[name], check_exact=True)
        assert list(map(str, a.tables[name].dtypes)) == list(map(str, b.tables[name].dtypes)), name
    assert list(a.quarantine) == list(b.quarantine)
    for name in a.quarantine:
        pd.testing.assert_frame_equal(a.quarantine[name], b.quarantine[name], check_exact=True)
    pd.testing.assert_frame_equal(a.accounting, b.accounting, check_exact=True)
    pd.testing.assert_frame_equal(a.unknown, b.unknown, check_exact=True)
    pd.testing.assert_frame_equal(a.summary(), b.summary(), check_exact=True)
    assert (a.source_hashes, a.timezone, a.warnings, a.notes()) == (b.source_hashes, b.timezone, b.warnings,
                                                                    b.notes())


def test_round_trip_equals_a_fresh_load(csv_config, tmp_path):
    fresh = data.load_dataset(csv_config)
    assert stash.save(fresh, tmp_path / ".tables", csv_config) == tmp_path / ".tables" / stash.STASH_MANIFEST
    manifest = json.loads((tmp_path / ".tables" / stash.STASH_MANIFEST).read_text(encoding="utf-8"))
    assert "key" not in manifest and "sources" not in manifest  # only the key's digest (queries may hold secrets)
    back = stash.restore(tmp_path / ".tables", csv_config)
    assert back is not None
    _assert_same_dataset(fresh, back)
    _assert_same_dataset(data.load_dataset(csv_config), back)  # and a second, independent load
    # the accounting still adds up: rows read = accepted + quarantined + excluded, per table
    acc = back.accounting.drop_duplicates("table").set_index("table")
    assert (acc["rows_read"] == acc["rows_accepted"] + acc["rows_quarantined"] + acc["rows_excluded"]).all()
    # the three broken rows (fixture) are the interactions' quarantine, each for its wait_s
    assert int(acc.loc["interactions", "rows_quarantined"]) == len(BROKEN_ROWS)
    assert set(back.quarantine["interactions"]["reason"]) == {"wait_s: unparseable number"}
    # a file changed between the load and the stash: nothing is stashed
    agents = Path(csv_config.sources["agents"].path)
    text = agents.read_text(encoding="utf-8")
    try:
        agents.write_text(text.replace(",", ", ", 1), encoding="utf-8")
        assert stash.save(fresh, tmp_path / "other", csv_config) is None
        assert not (tmp_path / "other").exists()
    finally:
        agents.write_text(text, encoding="utf-8")
    # windows cut the restored tables as the fresh ones
    cut_a = fresh.window("2025-01-02", "2025-01-04")
    cut_b = back.window("2025-01-02", "2025-01-04")
    for name in cut_a.tables:
        pd.testing.assert_frame_equal(cut_a.tables[name], cut_b.tables[name], check_exact=True)


def test_sample_round_trip_and_key():
    cfg = default_config(sample={"days": DAYS, "contacts_per_day": PER_DAY})
    ds = data.load_dataset(cfg)
    import tempfile

    with tempfile.TemporaryDirectory() as d:
        stash.save(ds, Path(d) / ".tables", cfg)
        _assert_same_dataset(ds, stash.restore(Path(d) / ".tables", cfg))
        # another seed, size or time zone is another dataset: no hit
        for other in (default_config(sample={"days": DAYS, "contacts_per_day": PER_DAY, "seed": 1}),
                      default_config(sample={"days": DAYS + 1, "contacts_per_day": PER_DAY}),
                      default_config(sample={"days": DAYS, "contacts_per_day": PER_DAY}, timezone="UTC")):
            assert stash.restore(Path(d) / ".tables", other) is None


def test_changed_source_file_reloads(csv_config, tmp_path):
    run = tmp_path / "run"
    run.mkdir()
    cfg_path = cx_manifest.write_run_config(run, csv_config)
    assert cx_manifest.stash_tables(csv_config, data.load_dataset(csv_config), run)
    ctx = nb.setup(config_path=str(cfg_path), run_dir=str(run), step="01_cx_metric")
    assert ctx.loaded_from == "stash"
    agents = Path(csv_config.sources["agents"].path)
    text = agents.read_text(encoding="utf-8")
    try:
        st = agents.stat()
        os.utime(agents, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000_000))  # same bytes, newer mtime
        assert stash.restore(run / stash.STASH_DIR, csv_config) is None
        lines = text.splitlines()
        agents.write_text("\n".join(lines[:-1]) + "\n", encoding="utf-8")  # one agent fewer
        nb._DATASETS.clear()
        ctx = nb.setup(config_path=str(cfg_path), run_dir=str(run), step="01_cx_metric")
        assert ctx.loaded_from == "load"
        assert len(ctx.dataset.tables["agents"]) == len(lines) - 2  # header and the dropped line
        assert (run / "quarantine" / "interactions.parquet").is_file()
    finally:
        agents.write_text(text, encoding="utf-8")
    uses = stash.uses(run / stash.STASH_DIR)
    assert [u["from"] for u in uses] == ["stash", "load"]


def test_stash_is_not_in_the_run_zip(csv_config, tmp_path):
    from cxlab.brief.attachments import zip_run

    run = tmp_path / "run"
    run.mkdir()
    cx_manifest.write_run_config(run, csv_config)
    cx_manifest.stash_tables(csv_config, data.load_dataset(csv_config), run)
    (run / "results").mkdir()
    (run / "results" / "01_cx_metric.json").write_text("{}", encoding="utf-8")
    assert any((run / ".tables").glob("tables-*.arrow"))
    notes: list = []
    names = zipfile.ZipFile(io.BytesIO(zip_run(run, notes=notes))).namelist()
    assert f"{run.name}/results/01_cx_metric.json" in names
    assert not [n for n in names if ".tables" in n or n.endswith(".arrow")]
    assert not [n for n in names if "/quarantine/" in n]  # quarantine (raw rows) stays too
    cx_manifest.unstash(run)
    assert not (run / ".tables").exists()


def test_contact_frame_cache_hit_equals_recompute(tmp_path, monkeypatch):
    cfg = default_config(sample={"days": DAYS, "contacts_per_day": PER_DAY})
    ds = data.load_dataset(cfg)
    tables = ds.window(cfg.window.start, cfg.window.end, cfg.timezone).tables
    kw = dict(cx_metric=cfg.cx_metric, options=cfg.kpis, timezone=cfg.timezone)
    fresh = sources.contact_frame(tables, **kw)
    sources.use_cache(tmp_path)
    first = sources.contact_frame(tables, **kw)
    assert len(list(tmp_path.glob("contact_frame-*.arrow"))) == 1

    from cxlab import kpis

    calls = []
    real = kpis.contact_features
    monkeypatch.setattr(kpis, "contact_features", lambda *a, **k: calls.append(1) or real(*a, **k))
    hit = sources.contact_frame(tables, **kw)
    assert calls == []  # read from the cache, nothing recomputed
    for frame in (first, hit):
        pd.testing.assert_frame_equal(frame, fresh, check_exact=True)
        assert frame.attrs == fresh.attrs
    assert hit.attrs["coverage"] and hit.attrs["coverage"][0].source == "agents"
    # another parameter or other rows: another entry, recomputed
    other = sources.contact_frame(tables, **{**kw, "options": cfg.kpis.model_copy(update={"fcr_window_days": 3})})
    assert calls == [1] and len(list(tmp_path.glob("contact_frame-*.arrow"))) == 2
    cut = {**tables, "surveys": tables["surveys"].iloc[: len(tables["surveys"]) // 2]}
    half = sources.contact_frame(cut, **kw)
    assert calls == [1, 1] and len(half) < len(fresh)
    sources.use_cache(None)
    pd.testing.assert_frame_equal(other, sources.contact_frame(
        tables, **{**kw, "options": cfg.kpis.model_copy(update={"fcr_window_days": 3})}), check_exact=True)


COMMON = '''\
config_path: str = ""  # run config YAML
run_dir: str = ""  # run folder
cx_metric: str = "csat"  # csat | nps | ces
window_start: str = "2025-01-01"  # first day
window_end: str = "2025-12-31"  # last day
grain: str = "day"  # day | week
seed: int = 20251  # seed
'''

_SETUP_CELL = '''\
from cxlab import nb, results, sources
ctx = nb.setup(config_path=config_path, run_dir=run_dir, cx_metric=cx_metric, window_start=window_start,
               window_end=window_end, grain=grain, seed=seed, step=STEP)
before = sorted(p.name for p in (ctx.run_dir / ".tables").glob("contact_frame-*.arrow"))
cf = sources.contact_frame(ctx.tables, cx_metric=ctx.config.cx_metric, options=ctx.config.kpis,
                           timezone=ctx.timezone)
results.record(run_dir, STEP, "loaded_from", ctx.loaded_from)
results.record(run_dir, STEP, "contact_rows", len(cf))
results.record(run_dir, STEP, "cached_before", before)
import os
results.record(run_dir, STEP, "progress_env", os.environ.get("CXLAB_PROGRESS"))
'''


def _step_notebook(folder: Path, stem: str, fail: bool = False) -> None:
    params = new_code_cell(COMMON)
    params.metadata["tags"] = ["parameters"]
    cells = [params, new_code_cell(f"STEP = {stem!r}\n" + _SETUP_CELL)]
    if fail:
        cells.append(new_code_cell('raise ValueError("this step fails on purpose")'))
    book = new_notebook(cells=cells)
    book.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    for i, cell in enumerate(book.cells):
        cell["id"] = f"cell-{i}"
    nbformat.write(book, folder / f"{stem}.ipynb")


def test_a_runs_notebooks_read_the_stash_and_the_run_removes_it(tmp_path):
    books = tmp_path / "notebooks"
    books.mkdir()
    _step_notebook(books, "01_first")
    _step_notebook(books, "02_second", fail=True)  # a failed run must remove the stash too
    cfg = default_config(sample={"days": DAYS, "contacts_per_day": PER_DAY})
    with pytest.raises(RunFailed) as info:
        cx_execute.run(cfg, notebooks_dir=books, reports_dir=tmp_path / "reports", quiet=True)
    run = info.value.result.run_dir
    assert not (run / ".tables").exists()
    manifest = json.loads((run / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["data_load"]["stashed"] is True
    assert {s: u["from"] for s, u in manifest["data_load"]["steps"].items()} == {"01_first": "stash",
                                                                                 "02_second": "stash"}
    res = {s: json.loads((run / "results" / f"{s}.json").read_text(encoding="utf-8")) for s in ("01_first",
                                                                                                  "02_second")}
    assert res["01_first"]["loaded_from"] == res["02_second"]["loaded_from"] == "stash"
    # the first step computed the contact frame and cached it; the second found it there
    assert res["01_first"]["cached_before"] == [] and len(res["02_second"]["cached_before"]) == 1
    assert res["01_first"]["contact_rows"] == res["02_second"]["contact_rows"] > 0
    assert (run / "quarantine" / "interactions.parquet").is_file()
    assert res["01_first"]["progress_env"] == "0"  # no load progress bar can reach a notebook's outputs


def test_load_progress_bar_only_where_asked(monkeypatch):
    from cxlab.data import load as cx_load

    monkeypatch.setenv("CXLAB_PROGRESS", "0")
    with cx_load._progress(3) as bar:
        assert bar is None
    monkeypatch.setenv("CXLAB_PROGRESS", "1")
    with cx_load._progress(3) as bar:
        assert bar is not None and bar.total == 3
        bar.delay = 0  # tqdm's delay is 2 s: loads shorter than that never draw it
    monkeypatch.delenv("CXLAB_PROGRESS")
    with cx_load._progress(3) as bar:  # pytest's stderr is no terminal and this is no Jupyter kernel
        assert bar is None
    with cx_execute._load_progress(False):
        assert os.environ["CXLAB_PROGRESS"] == "0"
    assert "CXLAB_PROGRESS" not in os.environ
