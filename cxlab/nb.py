"""The notebook facade: one call sets up a step notebook.

Every step notebook starts with the common parameters cell and then::

    from cxlab import nb
    ctx = nb.setup(config_path=config_path, run_dir=run_dir, cx_metric=cx_metric,
                   window_start=window_start, window_end=window_end, grain=grain,
                   seed=seed, step="01_cx_metric")

:func:`setup` loads and validates the run config, loads the canonical tables
(the embedded sample when the config has no sources), cuts them to the
window, applies one display style (rounding, plot theme) and returns a
:class:`Context` whose :meth:`Context.record` stores results for the brief.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from .config import RunConfig, load_config

__all__ = ["Context", "setup", "say", "show", "figure", "PRIVATE_COLUMNS"]

PRIVATE_COLUMNS = ("customer_id", "comment")
_DATASETS: dict[str, Any] = {}


@dataclass
class Context:
    """What a step notebook works with.

    Attributes
    ----------
    config : RunConfig
        The validated run config (notebook parameters applied).
    tables : dict of str to DataFrame
        Canonical tables cut to the analysis window.
    dataset : cxlab.data.Dataset
        The full loaded dataset (accounting, quarantine, source hashes).
    run_dir : Path
        Where results are recorded (the scratch run when the notebook's
        ``run_dir`` parameter is empty).
    step : str
        The notebook stem, e.g. ``"01_cx_metric"``.
    seed : int
        The seed every random draw in the notebook derives from.
    loaded_from : {"stash", "load", "memory"}
        Where :func:`setup` got the dataset: the run's stash of validated
        tables (:mod:`cxlab.data.stash`), a fresh load and validation, or
        this process's earlier load.
    load_seconds : float
        Seconds :func:`setup` spent getting the dataset.
    """

    config: RunConfig
    tables: dict
    dataset: Any
    run_dir: Path
    step: str
    seed: int
    recorded: dict = field(default_factory=dict)
    skipped: dict = field(default_factory=dict)
    loaded_from: str = "load"
    load_seconds: float = 0.0

    @property
    def timezone(self) -> str:
        return self.config.timezone

    def rng(self, offset: int = 0) -> np.random.Generator:
        """A generator seeded from the notebook's seed (plus an offset per use)."""
        return np.random.default_rng(self.seed + offset)

    def record(self, key: str, value: Any) -> None:
        """Store a JSON-able result under ``results/<step>.json`` of the run.

        Returns None on purpose: a bare ``ctx.record(...)`` as a cell's last
        line then prints nothing (a trailing ``;`` does not work under nbval).
        """
        from . import results

        results.record(self.run_dir, self.step, key, value)
        self.recorded[key] = value

    def results(self, step: str | None = None) -> dict:
        """Results recorded by a step of this run (all steps when ``step`` is None)."""
        from . import results

        return results.load(self.run_dir, step)

    def show(self, df: pd.DataFrame, **kwargs):
        """Display a table with the run's privacy rules and rounding (see :func:`show`)."""
        kwargs.setdefault("currency", getattr(self.config, "currency", "USD"))
        return show(df, privacy=self.config.privacy, **kwargs)

    def table(self, name: str) -> pd.DataFrame | None:
        """The windowed canonical table ``name``, or None when the run has none (or no rows)."""
        df = self.tables.get(name)
        return None if df is None or len(df) == 0 else df

    def has(self, table: str, *columns: str) -> bool:
        """Whether ``table`` has rows in the window and every column has a non-null value."""
        df = self.table(table)
        return df is not None and all(c in df.columns and df[c].notna().any() for c in columns)

    def needs(self, key: str) -> bool:
        """Run the declared section ``key`` of this step, or note why it is skipped.

        Looks the section up in :mod:`cxlab.plan` (``cxlab/plan/stepNN.py``)
        and checks it against the windowed tables. When something is missing
        it prints the one-line note ("**Skipped — title:** what is missing.
        With it, this section would …"), records it under ``skipped`` and
        returns False; later calls for the same key return False silently,
        so every cell of a section can start with ``if ctx.needs(key):``.
        """
        from . import plan

        if key in self.skipped:
            return False
        sec = plan.section(self.step, key)
        reasons = plan.missing(sec, self.tables, self.config)
        dep = [a for a in sec.after if a in self.skipped]
        if dep and not reasons:
            reasons = [f"it builds on {', '.join(plan.section(self.step, a).title for a in dep)}, which is skipped"]
        if reasons:
            self.skip(key, "; ".join(reasons))
            return False
        return True

    def skip(self, key: str, reason: str) -> None:
        """Skip section ``key`` with ``reason`` (a phrase): print the note, record it."""
        from . import plan

        if key in self.skipped:
            return
        sec = plan.section(self.step, key)
        self.skipped[key] = {"section": key, "title": sec.title, "missing": reason, "adds": sec.adds}
        say(plan.note_text(sec, [reason]))
        self.record("skipped", list(self.skipped.values()))

    def guard(self, key: str):
        """A ``with`` block that turns :class:`cxlab.errors.DataError` (e.g. ``NotEnoughData``) into the section's skip note.

        Examples
        --------
        >>> with ctx.guard("pilot"):  # doctest: +SKIP
        ...     readout = verify.pilot_readout(...)
        """
        return _Guard(self, key)


class _Guard:
    def __init__(self, ctx: Context, key: str):
        self.ctx, self.key = ctx, key

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc, tb):
        from .errors import DataError

        # DataError means "this data cannot support the analysis" (NotEnoughData is one kind):
        # a skip note for this section, never a failed step
        if exc_type is not None and issubclass(exc_type, DataError):
            self.ctx.skip(self.key, str(exc).rstrip("."))
            return True
        return False


def _window_overrides(window_start, window_end, grain) -> dict:
    return {"start": window_start, "end": window_end, "grain": grain}


def setup(
    *,
    config_path: str = "",
    run_dir: str = "",
    cx_metric: str | None = None,
    window_start: str | None = None,
    window_end: str | None = None,
    grain: str | None = None,
    seed: int | None = None,
    step: str = "notebook",
) -> Context:
    """Load config and data for a step notebook and apply the display style.

    Parameters
    ----------
    config_path : str
        Run config YAML; ``""`` = the embedded sample center.
    run_dir : str
        Run folder for recorded results; ``""`` = the scratch run.
    cx_metric, window_start, window_end, grain, seed
        Notebook parameters; they override the config's values.
    step : str
        The notebook's stem (results are recorded under it).

    Returns
    -------
    Context
        ``ctx.loaded_from`` says where the data came from and
        ``ctx.load_seconds`` how long getting it took.

    Notes
    -----
    In a run (``run_dir`` set) the pipeline has validated the tables once
    and stashed them under ``<run_dir>/.tables`` (:mod:`cxlab.data.stash`);
    when the stash's key matches this config, the tables are read from it
    memory-mapped and the contact frame is cached beside them, so the
    steps of a run compute it once. A missing or stale stash (another
    config, a changed input file) means a load and validation here, as
    without a stash. Each setup in a run appends a line to
    ``.tables/uses.jsonl``; the run copies it to its manifest
    (``data_load``).
    """
    from . import results
    from .plots import set_theme

    base = load_config(config_path or None)
    overrides: dict[str, Any] = {}
    if cx_metric is not None:
        overrides["cx_metric"] = cx_metric
    if seed is not None:
        overrides["seed"] = int(seed)
    win = base.window.model_dump()
    for key, val in (("start", window_start), ("end", window_end), ("grain", grain)):
        if val not in (None, ""):
            win[key] = val
    overrides["window"] = win
    config = load_config(config_path or None, **overrides) if config_path else RunConfig(
        **{**base.model_dump(), **overrides}
    )
    rdir = Path(run_dir) if run_dir else results.scratch_run_dir()
    rdir.mkdir(parents=True, exist_ok=True)

    t_load = time.perf_counter()
    _kpi_resources(config)
    dataset, loaded_from = _dataset(base, rdir, in_run=bool(run_dir))
    cut = dataset.window(config.window.start, config.window.end, config.timezone)

    ctx = Context(config=config, tables=cut.tables, dataset=dataset, run_dir=rdir, step=step, seed=config.seed,
                  loaded_from=loaded_from, load_seconds=time.perf_counter() - t_load)
    if run_dir:
        _log_use(rdir, step, loaded_from, ctx.load_seconds)
    ctx.record("params", run_params(config, step))
    set_theme()
    pd.set_option("display.precision", 3)
    pd.set_option("display.max_columns", 30)
    pd.set_option("display.width", 120)
    return ctx


def _dataset(base: RunConfig, rdir: Path, *, in_run: bool) -> tuple[Any, str]:
    """The loaded dataset of ``base`` and where it came from: ``"memory"``, ``"stash"`` or ``"load"``.

    In this process a dataset loaded once is reused (``"memory"``). In a run
    (``in_run``) the pipeline stashed the validated tables under
    ``<run_dir>/.tables`` (:mod:`cxlab.data.stash`); when the stash's key
    matches ``base`` (same sources, sample, time zone and input files) the
    tables are read memory-mapped (``"stash"``) and the contact frame is
    cached beside them (:func:`cxlab.sources.frames.use_cache`). Otherwise
    the data is loaded and validated here (``"load"``), with the quarantine
    written to ``<run_dir>/quarantine`` in a run.
    """
    from . import data
    from .data import stash
    from .sources import frames

    key = json.dumps(stash.stash_key(base), sort_keys=True)
    stash_dir = rdir / stash.STASH_DIR
    frames.use_cache(stash_dir if in_run and stash_dir.is_dir() else None)
    if key in _DATASETS:
        return _DATASETS[key], "memory"
    found = stash.restore(stash_dir, base) if in_run else None
    if found is not None:
        _DATASETS[key] = found
        return found, "stash"
    frames.use_cache(None)
    ds = data.load_dataset(base, quarantine_dir=rdir / "quarantine" if in_run else None)
    _DATASETS[key] = ds
    return ds, "load"


def _log_use(rdir: Path, step: str, loaded_from: str, seconds: float) -> None:
    """Append how this step got its data to ``<run_dir>/.tables/uses.jsonl`` (the run copies it to its manifest)."""
    from .data import stash

    stash_dir = rdir / stash.STASH_DIR
    if not stash_dir.is_dir():
        return
    line = json.dumps({"step": step, "from": loaded_from, "seconds": round(seconds, 3)})
    try:
        with open(stash_dir / stash.USES_LOG, "a", encoding="utf-8") as fh:  # one short O_APPEND write
            fh.write(line + "\n")
    except OSError:
        pass  # bookkeeping only


def _kpi_resources(config: RunConfig) -> None:
    """Apply the config's DuckDB resources (``engine.memory_limit``, ``temp_directory``, ``threads``) to the KPI layer.

    A field the config leaves unset goes back to its default (environment
    variable or machine default), so one notebook's settings never leak into
    the next config run in the same kernel.
    """
    from .kpis import _resources

    e = config.engine
    _resources.configure(**{k: getattr(e, k) for k in ("memory_limit", "temp_directory", "threads")})


def run_params(config: RunConfig, step: str) -> dict:
    """What produced a step's results, recorded by :func:`setup` under ``params``.

    The brief compares these across steps (metric, window, KPI definitions)
    and warns when steps disagree or one is older than a step it depends on.

    Returns
    -------
    dict
        ``step``, ``cx_metric``, ``window_start``, ``window_end``, ``grain``,
        ``seed``, ``definitions`` (the KPI options), ``recorded_at`` (UTC,
        ISO 8601).
    """
    return {
        "step": step,
        "cx_metric": config.cx_metric,
        "window_start": str(config.window.start),
        "window_end": str(config.window.end),
        "grain": config.window.grain,
        "seed": int(config.seed),
        "definitions": config.kpis.model_dump(mode="json"),
        "recorded_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
    }


def _fmt_cell(v, digits):
    if v is None or (isinstance(v, float) and np.isnan(v)):
        return "—"
    if isinstance(v, (float, np.floating)):
        return f"{v:,.{digits}f}"
    if isinstance(v, (pd.Timestamp, dt.date)):
        return str(v.date() if isinstance(v, pd.Timestamp) else v)
    return v


def show(df: pd.DataFrame, *, digits: int = 2, privacy=None, index: bool = False, caption: str | None = None,
         human: bool = False, currency: str = "USD", by_row: dict | None = None):
    """Display a table for a report: rounded, NaN as "—", private columns removed.

    Customer identifiers and free-text comments are dropped unless the run's
    privacy settings allow them. With ``human=True`` every value is formatted
    by its column's quantity and the headers become human labels
    (:func:`cxlab.fmt.frame`: percentages with one base, m:ss, thousands,
    money in ``currency``); ``by_row`` formats a column whose unit changes
    from row to row by the quantity named in another column (see
    :func:`cxlab.fmt.frame`).
    """
    from IPython.display import HTML, display

    out = df.copy()
    if human:
        from . import fmt

        keep = [c for c in out.columns if c not in PRIVATE_COLUMNS
                or (c == "customer_id" and getattr(privacy, "allow_customer_ids", False))
                or (c == "comment" and getattr(privacy, "allow_comments", False))]
        formatted = fmt.frame(out[keep], currency=currency, digits=digits, by_row=by_row)
        numeric = [pd.api.types.is_numeric_dtype(out[c]) and not pd.api.types.is_bool_dtype(out[c]) for c in keep]
        display(HTML(_table_html(formatted, numeric, index=index, caption=caption)))
        return None
    allow_ids = bool(getattr(privacy, "allow_customer_ids", False))
    allow_comments = bool(getattr(privacy, "allow_comments", False))
    drop = [c for c in out.columns if (c == "customer_id" and not allow_ids) or (c == "comment" and not allow_comments)]
    out = out.drop(columns=drop)
    numeric = [pd.api.types.is_numeric_dtype(out[c]) and not pd.api.types.is_bool_dtype(out[c]) for c in out.columns]
    out = out.map(lambda v: _fmt_cell(v, digits))
    display(HTML(_table_html(out, numeric, index=index, caption=caption)))


def figure(fig, *, alt: str, dpi: int = 200, width_px: int = 680) -> None:
    """Display a matplotlib figure as ``<img alt="…" src="data:image/png;base64,…">`` at print resolution.

    The PNG is rendered at ``dpi`` (print resolution) and shown ``width_px``
    wide, so it is sharp on paper and high-density screens; ``alt`` is the
    real description a screen reader (or an email client that blocks
    images) shows. The figure is closed, so the inline backend does not show
    it a second time. Mail delivery turns the ``data:`` URI into an inline
    CID part.

    Parameters
    ----------
    fig : matplotlib.figure.Figure
    alt : str
        What the chart shows, in words (computed from its data).
    dpi : int
        Resolution of the PNG.
    width_px : int
        Display width (CSS pixels; ``max-width: 100%`` keeps it inside phones).
    """
    import base64
    import io
    from html import escape

    import matplotlib.pyplot as plt
    from IPython.display import HTML, display

    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi, bbox_inches="tight", metadata={"Software": None})
    plt.close(fig)
    data = base64.b64encode(buf.getvalue()).decode("ascii")
    display(HTML(f'<img class="cxlab-figure" alt="{escape(str(alt), quote=True)}" width="{int(width_px)}" '
                 f'style="max-width:100%;height:auto" src="data:image/png;base64,{data}">'))


def _table_html(df: pd.DataFrame, numeric, *, index: bool = False, caption: str | None = None) -> str:
    """A plain, deterministic HTML table: numbers right-aligned, text left-aligned."""
    from html import escape

    def cell(tag, value, num):
        style = ' style="text-align:right"' if num else ' style="text-align:left"'
        return f"<{tag}{style}>{escape(str(value))}</{tag}>"

    cols = list(df.columns)
    head = "".join(cell("th", c, n) for c, n in zip(cols, numeric))
    if index:
        head = "<th></th>" + head
    body = []
    for idx, row in zip(df.index, df.itertuples(index=False)):
        cells = "".join(cell("td", v, n) for v, n in zip(row, numeric))
        if index:
            cells = f"<th style=\"text-align:left\">{escape(str(idx))}</th>" + cells
        body.append(f"<tr>{cells}</tr>")
    cap = f"<p class='cxlab-caption'><b>{escape(caption)}</b></p>" if caption else ""
    return f"{cap}<table class=\"cxlab-table\"><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


_TAG_START = re.compile(r"<(?=[A-Za-z/!?])")
_UNSAFE_LINK = re.compile(r"\]\(\s*(?:javascript|vbscript|data)\s*:", re.IGNORECASE)


def escape_markup(text: str) -> str:
    """Neutralise raw HTML and script links in a computed Markdown sentence.

    Sentences interpolate data (queue, agent, reason and event names), and
    Markdown passes raw HTML through; a queue named ``tech<img onerror=…>``
    would become a live tag in the report. Every ``<`` that could open a tag,
    comment or declaration becomes ``&lt;`` (``p < 0.05`` is untouched), and a
    link target with a ``javascript:``, ``vbscript:`` or ``data:`` scheme loses
    its link. Markdown emphasis (``**bold**``) keeps working.

    Examples
    --------
    >>> escape_markup("queue tech<img src=x onerror=alert(1)> has **SL 80%**, p < 0.05")
    'queue tech&lt;img src=x onerror=alert(1)> has **SL 80%**, p < 0.05'
    >>> print(escape_markup("[see](javascript:alert(1))"))
    [see]\\(javascript:alert(1))
    """
    text = _TAG_START.sub("&lt;", str(text))
    return _UNSAFE_LINK.sub(lambda m: "]\\(" + m.group(0)[2:], text)


def say(text: str) -> None:
    """Render a computed sentence as Markdown in the notebook output (raw HTML escaped)."""
    from IPython.display import Markdown, display

    display(Markdown(escape_markup(text)))
