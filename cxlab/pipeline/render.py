"""Rendering an executed notebook as a code-free, self-contained HTML report (nbconvert).

The page shell is the Jinja template ``cxlab/templates/cxlab_report.html.j2``
(JupyterLab's template with every network script removed); the run header is
placed first in the body through ``resources["cxlab_header"]``.
"""

from __future__ import annotations

import html
from pathlib import Path

from .. import __version__
from .._utils import atomic_write_text
from ..config import RunConfig
from ._common import BANNER_TAG, ERROR_ANCHOR, error_where

__all__ = ["render_html"]

TEMPLATES = Path(__file__).resolve().parent.parent / "templates"
TEMPLATE_FILE = "cxlab_report.html.j2"
BRIEF_STEM = "07_brief"  # its HTML is also printed to 07_brief.pdf


def _definitions_html(config: RunConfig) -> str:
    try:  # the KPI module's own table, when it exists
        from ..kpis import definitions_table  # type: ignore[attr-defined]

        table = definitions_table(config.kpis)
        if hasattr(table, "to_html"):
            return table.to_html(index=False, border=0, classes="cxlab-definitions")
    except Exception:
        pass
    rows = "".join(
        f"<tr><td>{html.escape(k)}</td><td>{html.escape(str(v))}</td></tr>"
        for k, v in config.kpis.model_dump(mode="json").items()
    )
    return f'<table class="cxlab-definitions"><tr><th>KPI option</th><th>value</th></tr>{rows}</table>'


def run_header_html(config: RunConfig, *, run_id: str, step: str, status: str, error: dict | None) -> str:
    e = html.escape
    w = config.window
    data = (
        f"embedded sample (seed {config.sample.seed}, {config.sample.days} days, "
        f"{config.sample.contacts_per_day} contacts/day)"
        if config.uses_sample
        else ", ".join(sorted(config.sources))
    )
    parts = ['<header class="cxlab-header">']
    if status == "failed" and error:
        where = error_where(error)
        src = f" (<code>{e(error['source'])}</code>)" if error.get("source") else ""
        parts.append(
            f'<div class="cxlab-error" id="cxlab-error"><b>This step failed.</b> {e(where)}{src} raised '
            f"<b>{e(error['ename'])}</b>: <code>{e(error['evalue'])}</code><br>"
            f'<a href="#{ERROR_ANCHOR}">Go to the error</a>. Output after it was not computed; '
            "steps that depend on this one were skipped.</div>"
        )
    from ..redact import redact_secrets

    parts.append(f"<h1>{e(redact_secrets(config.title))}</h1>")
    rows = [
        ("run", f"{config.name} / {run_id}"),
        ("step", step),
        ("data window", f"{w.start.isoformat()} to {w.end.isoformat()} (by {w.grain}, {config.timezone})"),
        ("data", data),
        ("CX metric", config.cx_metric),
        ("segments", ", ".join(config.segments)),
        ("cxlab", __version__),
    ]
    parts.append("<table>" + "".join(f"<tr><th>{e(k)}</th><td>{e(v)}</td></tr>" for k, v in rows) + "</table>")
    parts.append(f"<details><summary>Definitions used</summary>{_definitions_html(config)}</details>")
    parts.append("</header>")
    return "\n".join(parts)


def _quiet_logger(name: str):
    import logging

    logger = logging.getLogger(name)
    logger.setLevel(logging.ERROR)
    return logger


def render_html(notebook, html_path, *, header_html: str = "", pdf: bool | None = None) -> Path:
    """Render an executed notebook as a code-free, self-contained HTML report.

    Code cells' inputs and prompts are hidden, images stay embedded as
    ``data:`` URIs and the template (``cxlab/templates/cxlab_report.html.j2``)
    loads no script from the network, so the file opens offline.
    ``header_html`` is placed at the top of the body.

    ``pdf`` (default: only for the brief, ``07_brief``) also prints the HTML
    to a PDF beside it (:func:`cxlab.brief.pdf.write_run_pdf`: A4, atomic,
    skipped with a logged warning when no headless Chromium is installed).
    """
    import nbformat
    from nbconvert import HTMLExporter
    from nbconvert.preprocessors import TagRemovePreprocessor

    nb = nbformat.read(str(notebook), as_version=4)
    exporter = HTMLExporter(
        template_name="lab",
        template_file=TEMPLATE_FILE,
        extra_template_paths=[str(TEMPLATES)],
        exclude_input=True,
        exclude_input_prompt=True,
        exclude_output_prompt=True,
        exclude_anchor_links=True,
        embed_images=True,
        # nbconvert warns per image without alt text (every matplotlib figure): not the reader's concern
        log=_quiet_logger("cxlab.run.nbconvert"),
    )
    exporter.register_preprocessor(TagRemovePreprocessor(remove_cell_tags={BANNER_TAG}), enabled=True)
    title = nb.metadata.get("title") or Path(notebook).stem
    body, _ = exporter.from_notebook_node(
        nb, resources={"metadata": {"name": title}, "cxlab_header": header_html}
    )
    html_path = Path(html_path)
    atomic_write_text(html_path, body)
    if pdf is None:
        pdf = Path(notebook).stem == BRIEF_STEM
    if pdf:  # the brief on paper, beside its HTML (skipped with a logged note when Chromium is missing)
        from ..brief.pdf import write_run_pdf

        write_run_pdf(html_path.parent, html_name=html_path.name, pdf_name=html_path.with_suffix(".pdf").name)
    return html_path

