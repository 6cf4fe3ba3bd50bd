"""The brief on paper and on screens: print it to PDF with headless Chromium, count its pages, screenshot it.

Chromium's print engine is the one leadership's browsers use, so what the
test counts is what a reader prints. The browser is Debian's ``chromium``
(``make test`` installs it as root) driven by Playwright; no network is
used (the brief is self-contained).
"""

from __future__ import annotations

import logging
import os
import re
import shutil
import tempfile
from pathlib import Path

from ..errors import CxlabError

__all__ = ["chromium_path", "print_pdf", "write_run_pdf", "count_pages", "screenshot", "BROWSER_ARGS"]

_log = logging.getLogger("cxlab.brief.pdf")

BROWSER_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                "--disable-background-networking", "--disable-component-update", "--disable-sync"]


def chromium_path() -> str | None:
    """The headless Chromium to use (``$CXLAB_CHROMIUM``, ``chromium``, ``chromium-browser``), or None."""
    env = os.environ.get("CXLAB_CHROMIUM")
    if env and Path(env).is_file():
        return env
    return shutil.which("chromium") or shutil.which("chromium-browser")


def _browser(p):
    exe = chromium_path()
    if exe is None:
        raise CxlabError("no headless Chromium found (install Debian's 'chromium', or set CXLAB_CHROMIUM to its path)")
    return p.chromium.launch(executable_path=exe, args=BROWSER_ARGS)


def print_pdf(html_path: str | os.PathLike, pdf_path: str | os.PathLike) -> Path:
    """Print an HTML file to an A4 PDF as a browser's "Print" does (print CSS applied).

    Parameters
    ----------
    html_path : path-like
        The brief (``07_brief.html``).
    pdf_path : path-like
        Where the PDF goes.

    Returns
    -------
    pathlib.Path
        ``pdf_path``.

    Raises
    ------
    CxlabError
        The HTML file is missing, or no Chromium is installed.
    """
    from playwright.sync_api import sync_playwright

    html_path, pdf_path = Path(html_path), Path(pdf_path)
    if not html_path.is_file():
        raise CxlabError(f"cannot print {html_path}: file not found")
    pdf_path.parent.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as p:
        browser = _browser(p)
        try:
            page = browser.new_page()
            page.goto(html_path.resolve().as_uri(), wait_until="load")
            page.emulate_media(media="print")
            page.pdf(path=str(pdf_path), format="A4", print_background=True, prefer_css_page_size=True)
        finally:
            browser.close()
    return pdf_path


def write_run_pdf(run_dir: str | os.PathLike, *, html_name: str = "07_brief.html",
                  pdf_name: str = "07_brief.pdf") -> Path | None:
    """Print a run's brief (``07_brief.html``) into the run folder as ``07_brief.pdf``, atomically.

    Parameters
    ----------
    run_dir : path-like
        The run folder holding the rendered brief.
    html_name, pdf_name : str
        The brief's HTML file and the PDF written beside it.

    Returns
    -------
    pathlib.Path or None
        The PDF's path; None when it was not written (no Chromium, no brief,
        or printing failed) — a warning on the ``cxlab.brief.pdf`` logger says
        why, and a PDF left by an earlier rendering is removed so the run
        never holds a stale one.

    Notes
    -----
    The PDF is printed into a temporary file in the run folder and renamed
    over ``pdf_name`` (one ``os.replace``), so a reader never sees a partial
    file. The mailer attaches this file when it exists
    (:mod:`cxlab.brief.attachments`) instead of printing again.
    """
    run_dir = Path(run_dir)
    html_path, pdf_path = run_dir / html_name, run_dir / pdf_name

    def skip(why: str) -> None:
        _log.warning("%s not written: %s", pdf_path, why)
        try:
            pdf_path.unlink(missing_ok=True)  # an older PDF would no longer match the HTML
        except OSError:
            pass

    if not html_path.is_file():
        skip(f"{html_name} is missing")
        return None
    if chromium_path() is None:
        skip("no headless Chromium found (install Debian's 'chromium', or set CXLAB_CHROMIUM to its path)")
        return None
    fd, tmp = tempfile.mkstemp(prefix=f".{pdf_name}.", suffix=".tmp", dir=run_dir)
    os.close(fd)
    try:
        print_pdf(html_path, tmp)
        os.replace(tmp, pdf_path)
    except Exception as exc:  # printing is a convenience: the HTML brief is the deliverable
        Path(tmp).unlink(missing_ok=True)
        skip(f"printing failed ({type(exc).__name__}: {exc})")
        return None
    return pdf_path


_PAGE = re.compile(rb"/Type\s*/Page(?![a-zA-Z])")
_COUNT = re.compile(rb"/Type\s*/Pages\b[^>]*?/Count\s+(\d+)|/Count\s+(\d+)[^>]*?/Type\s*/Pages\b", re.S)


def count_pages(pdf_path: str | os.PathLike) -> int:
    """The number of pages of a PDF.

    Reads the page tree's ``/Count`` (the root ``/Pages`` node holds the
    largest); falls back to counting ``/Type /Page`` objects. Chromium writes
    uncompressed page-tree objects, so no PDF library is needed.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> f = pathlib.Path(tempfile.mkdtemp()) / "two.pdf"
    >>> _ = f.write_bytes(b"%PDF-1.4\\n1 0 obj <</Type /Pages /Kids [2 0 R 3 0 R] /Count 2>> endobj\\n"
    ...                   b"2 0 obj <</Type /Page /Parent 1 0 R>> endobj 3 0 obj <</Type /Page /Parent 1 0 R>> endobj")
    >>> count_pages(f)
    2
    """
    data = Path(pdf_path).read_bytes()
    if not data.startswith(b"%PDF"):
        raise CxlabError(f"{pdf_path} is not a PDF file")
    counts = [int(a or b) for a, b in _COUNT.findall(data)]
    if counts:
        return max(counts)
    return len(_PAGE.findall(data))


def screenshot(html_path: str | os.PathLike, png_path: str | os.PathLike, *, width: int = 1100,
               height: int = 900, full_page: bool = True, mobile: bool = False) -> dict:
    """Screenshot an HTML file at a viewport width; report what a reader's browser saw.

    Parameters
    ----------
    html_path, png_path : path-like
    width, height : int
        Viewport in CSS pixels (e.g. 1100 desktop, 390 phone).
    full_page : bool
        The whole page, not only the first screen.
    mobile : bool
        Emulate a phone (device scale 3, touch, mobile viewport).

    Returns
    -------
    dict
        ``png`` (path), ``scroll_width`` (page width; > ``width`` means the
        reader scrolls sideways), ``external`` (requests that left the file),
        ``failed`` (requests that failed), ``console_errors``.
    """
    from playwright.sync_api import sync_playwright

    html_path, png_path = Path(html_path), Path(png_path)
    out = {"png": png_path, "external": [], "failed": [], "console_errors": []}
    with sync_playwright() as p:
        browser = _browser(p)
        try:
            kw = {"viewport": {"width": width, "height": height}}
            if mobile:
                kw.update(device_scale_factor=3, is_mobile=True, has_touch=True)
            page = browser.new_page(**kw)
            page.on("requestfailed", lambda r: out["failed"].append(r.url))
            page.on("request", lambda r: out["external"].append(r.url)
                    if not r.url.startswith(("file:", "data:")) else None)
            page.on("console", lambda m: out["console_errors"].append(m.text) if m.type == "error" else None)
            page.goto(html_path.resolve().as_uri(), wait_until="load")
            out["scroll_width"] = page.evaluate("document.documentElement.scrollWidth")
            page.screenshot(path=str(png_path), full_page=full_page)
        finally:
            browser.close()
    return out
