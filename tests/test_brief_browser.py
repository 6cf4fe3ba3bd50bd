"""The brief in headless Chromium: desktop and phone screenshots, and the printed PDF fits two A4 pages.

Skipped with a clear reason when Debian's ``chromium`` is absent (``make test``
installs it as root). The brief is executed on constructed results (the
inconclusive case of ``tests/test_brief.py``, which has both charts and a
previous run) and rendered with the run header, as ``cxlab run`` does.
Set ``CXLAB_ARTIFACTS=<folder>`` to keep the screenshots and the PDF.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from cxlab.brief import pdf

pytestmark = pytest.mark.skipif(pdf.chromium_path() is None,
                                reason="Debian chromium not installed (make test installs it as root)")


@pytest.fixture(scope="module")
def brief_html(tmp_path_factory):
    from test_brief import constructed, run_brief, write_run

    from cxlab.config import load_config
    from cxlab.pipeline.render import render_html, run_header_html

    root = tmp_path_factory.mktemp("browser")
    cfg = root / "tiny.yaml"
    cfg.write_text("name: demo\ntitle: Which levers move our CX?\nsample: {days: 14, contacts_per_day: 60}\n")
    prev = constructed("did not hold")
    prev["01_cx_metric"]["headline"].update(value=75.0, ci_low=74.5, ci_high=75.5)
    write_run(root, "20260101T000000.000Z-prev00", prev, started="2026-01-01T08:00:00+00:00")
    run = write_run(root, "20260110T000000.000Z-curr00", constructed("inconclusive"))
    run_brief(run, cfg)
    hdr = run_header_html(load_config(cfg), run_id=run.name, step="07_brief", status="ok", error=None)
    return render_html(run / "07_brief.ipynb", run / "07_brief.html", header_html=hdr)


def _keep(*paths):
    dest = os.environ.get("CXLAB_ARTIFACTS")
    if dest:
        Path(dest).mkdir(parents=True, exist_ok=True)
        for p in paths:
            shutil.copy(p, Path(dest) / Path(p).name)


def test_desktop_and_phone_screenshots(brief_html, tmp_path):
    desk = pdf.screenshot(brief_html, tmp_path / "brief_desktop.png", width=1100, height=900)
    phone = pdf.screenshot(brief_html, tmp_path / "brief_phone.png", width=390, height=844, mobile=True)
    _keep(desk["png"], phone["png"])
    for shot, width in ((desk, 1100), (phone, 390)):
        assert shot["external"] == [] and shot["failed"] == [] and shot["console_errors"] == []
        assert shot["scroll_width"] <= width, f"the brief scrolls sideways at {width}px"
        assert Path(shot["png"]).stat().st_size > 20_000


def test_printed_pdf_fits_two_a4_pages(brief_html, tmp_path):
    out = pdf.print_pdf(brief_html, tmp_path / "brief.pdf")
    _keep(out)
    pages = pdf.count_pages(out)
    assert 1 <= pages <= 2, f"the brief prints on {pages} A4 pages"
    assert out.read_bytes()[:4] == b"%PDF"


def test_count_pages_counts_what_chromium_prints(tmp_path):
    # the page count can fail the test: 30 short lines with a forced page break every 10 print on 3 pages
    paras = "".join(f'<p style="{"break-before:page" if i and i % 10 == 0 else ""}">line {i}</p>' for i in range(30))
    html = tmp_path / "three.html"
    html.write_text(f"<html><body>{paras}</body></html>")
    assert pdf.count_pages(pdf.print_pdf(html, tmp_path / "three.pdf")) == 3


def test_rendering_the_brief_writes_its_pdf_into_the_run(brief_html):
    # render_html of 07_brief prints 07_brief.pdf beside the HTML (cxlab.brief.pdf.write_run_pdf), as `cxlab run` does
    run = Path(brief_html).parent
    out = run / "07_brief.pdf"
    assert out.is_file() and out.read_bytes()[:4] == b"%PDF"
    assert out.stat().st_mtime >= Path(brief_html).stat().st_mtime  # printed from this rendering
    pages = pdf.count_pages(out)
    assert 1 <= pages <= 2, f"the run's brief PDF has {pages} A4 pages"
    assert not list(run.glob(".07_brief.pdf.*")), "a temporary file was left in the run folder"
    _keep(out)
