"""What is attached: the brief's PDF by default, the run zip only on request (raw rows only when allowed, secrets redacted)."""

from __future__ import annotations

import io
import json
import os
import shutil
import subprocess
import tempfile
import zipfile
from pathlib import Path

from ..redact import _redact_json, redact_secrets
from ._run import (
    _CLEANABLE,
    _CONTROL,
    _FIXED_ZIP_TIME,
    _QUARANTINE_META,
    _REDACT_FILES,
    BRIEF,
    BRIEF_PDF,
    RAW_DIRS,
    RAW_SUFFIXES,
    VALIDATE_RESULTS,
    MailError,
    _privacy,
    _read_json,
    _run_config,
    _run_folder,
)

# ------------------------------------------------------------------------------------------------- zip


def _redacted_bytes(path: Path) -> bytes:
    text = path.read_text(encoding="utf-8", errors="replace")
    if path.suffix == ".json":
        try:
            return (json.dumps(_redact_json(json.loads(text)), indent=2, ensure_ascii=False) + "\n").encode("utf-8")
        except ValueError:  # not JSON after all: the text rules, without the YAML one
            pass
    return redact_secrets(text, tokens=path.name == "config.yaml").encode("utf-8")


def _keep_columns(columns, table: str, config: dict, privacy: dict) -> list[str]:
    """Columns of a raw-row file that may leave: bookkeeping + canonical, non-private columns (a whitelist)."""
    from ..schema import TABLES

    private = set()
    if not privacy["allow_customer_ids"]:
        private.add("customer_id")
    if not privacy["allow_comments"]:
        private.add("comment")
    spec = (config.get("sources") or {}).get(table) or {}
    rename = ((spec.get("mapping") or {}).get("rename") or {}) if isinstance(spec, dict) else {}
    canonical = {c.name for c in TABLES[table].columns} if table in TABLES else set()
    keep = []
    for col in columns:
        if col in _QUARANTINE_META:
            keep.append(col)
            continue
        target = rename.get(col, col)
        targets = target if isinstance(target, list) else [target]
        if targets and all(t in canonical and t not in private for t in targets):
            keep.append(col)
    return keep


def _clean_raw(path: Path, config: dict, privacy: dict) -> bytes | None:
    """A raw-row file with private columns removed (None when it cannot be cleaned)."""
    table = path.name.split(".")[0]
    try:
        if path.suffix == ".parquet":
            import pyarrow.parquet as pq

            t = pq.read_table(path)
            t = t.select(_keep_columns(t.column_names, table, config, privacy))
            buf = io.BytesIO()
            pq.write_table(t, buf)
            return buf.getvalue()
        if path.suffix == ".csv":
            import pandas as pd

            df = pd.read_csv(path, dtype=str, keep_default_na=False)
            return df[_keep_columns(list(df.columns), table, config, privacy)].to_csv(index=False).encode("utf-8")
    except Exception:  # unreadable: it does not leave
        return None
    return None


def zip_run(run_dir: str | os.PathLike, *, notes: list | None = None) -> bytes:
    """Zip a run folder for email, under the run's privacy settings.

    Sorted entries with fixed timestamps, so the bytes are reproducible.
    Left out: the ``quarantine/`` folder and every raw-data file (Parquet,
    CSV, databases, …) unless the run config's ``privacy.allow_raw_rows`` is
    true — then Parquet/CSV files keep only bookkeeping and canonical columns,
    without ``customer_id`` / ``comment`` unless those are allowed too (other
    raw formats never leave). ``config.yaml`` and ``manifest.json`` are
    re-redacted with :func:`redact_secrets`. ``notes`` (a list) receives one
    line per file left out.
    """
    root = _run_folder(run_dir)
    config = _run_config(root)
    privacy = _privacy(config)
    left_out: list[str] = []
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for path in sorted(p for p in root.rglob("*") if p.is_file()):
            rel = path.relative_to(root)
            if any(part.startswith(".") for part in rel.parts) or path.suffix in (".tmp", ".eml"):
                continue
            raw = bool(set(rel.parts[:-1]) & RAW_DIRS) or path.suffix.lower() in RAW_SUFFIXES
            if raw:
                data = _clean_raw(path, config, privacy) if (privacy["allow_raw_rows"]
                                                              and path.suffix in _CLEANABLE) else None
                if data is None:
                    left_out.append(rel.as_posix())
                    continue
            elif path.name in _REDACT_FILES and len(rel.parts) == 1:
                data = _redacted_bytes(path)
            else:
                data = path.read_bytes()
            info = zipfile.ZipInfo(str(Path(root.name) / rel), _FIXED_ZIP_TIME)
            info.compress_type = zipfile.ZIP_DEFLATED
            zf.writestr(info, data)
    if left_out and notes is not None:
        notes.append(f"left out of the zip (raw rows; privacy.allow_raw_rows is false or the file cannot be "
                     f"cleaned): {len(left_out)} file(s): {', '.join(left_out[:5])}{' …' if len(left_out) > 5 else ''}")
    return buf.getvalue()



# ------------------------------------------------------------------------------------------------- PDF


def _chromium() -> str | None:
    env = os.environ.get("CXLAB_CHROMIUM")
    if env and shutil.which(env):
        return shutil.which(env)
    for name in ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable", "chrome"):
        exe = shutil.which(name)
        if exe:
            return exe
    return None


def _print_pdf(html_path: Path, pdf_path: Path) -> Path:
    """Print ``html_path`` to ``pdf_path``: cxlab.brief.pdf.print_pdf when present, else headless Chromium."""
    try:
        import importlib

        _pdf = importlib.import_module(f"{__package__}.pdf")  # the brief's own printer (print CSS, page checks)
    except ImportError:
        _pdf = None
    if _pdf is not None and hasattr(_pdf, "print_pdf"):
        try:
            return Path(_pdf.print_pdf(html_path, pdf_path))
        except ImportError:  # it drives Chromium through playwright (a dev extra): print with the CLI instead
            pass
    exe = _chromium()
    if exe is None:
        raise MailError("headless Chromium not found (install the 'chromium' package, e.g. `make chromium`)")
    cmd = [exe, "--headless", "--no-sandbox", "--disable-gpu", "--no-pdf-header-footer",
           f"--print-to-pdf={pdf_path}", html_path.resolve().as_uri()]
    res = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    if res.returncode != 0 or not pdf_path.is_file() or pdf_path.stat().st_size == 0:
        raise MailError(f"Chromium could not print {html_path.name} (exit {res.returncode})")
    return pdf_path


def _brief_pdf(root: Path, notes: list) -> bytes | None:
    pdf = root / BRIEF_PDF
    if pdf.is_file():
        return pdf.read_bytes()
    html = root / BRIEF
    if not html.is_file():
        notes.append(f"no PDF attached: the run has no {BRIEF_PDF} and no {BRIEF} to print")
        return None
    with tempfile.TemporaryDirectory(prefix="cxlab-pdf-") as tmp:  # never written into the run folder
        try:
            return _print_pdf(html, Path(tmp) / BRIEF_PDF).read_bytes()
        except Exception as exc:  # the PDF is optional: any printer failure becomes a note, never a lost email
            notes.append(f"sending without the PDF: {str(exc).splitlines()[0] if str(exc) else type(exc).__name__}")
            return None



def _verdict(root: Path) -> str | None:
    """The pilot verdict recorded by step 6 (``results/06_validate.json``), as a short label."""
    v = _read_json(root / VALIDATE_RESULTS).get("verdict")
    if isinstance(v, dict):
        v = v.get("label") or v.get("verdict")
    if not isinstance(v, str) or not v.strip() or v.strip().lower() in ("not available", "none"):
        return None
    return _CONTROL.sub(" ", v.strip())[:80]


