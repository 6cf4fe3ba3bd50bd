"""Deliver a run by email: the brief as the HTML body, the whole run as a zip.

Credentials come only from environment variables (``CXLAB_SMTP_USER``,
``CXLAB_SMTP_PASSWORD``); they are never written to a notebook, the run folder
or the ``.eml`` of a dry run.
"""

from __future__ import annotations

import io
import os
import smtplib
import zipfile
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from pathlib import Path

from ..errors import CxlabError

__all__ = ["build_message", "zip_run", "send_run", "BRIEF", "USER_ENV", "PASSWORD_ENV"]

BRIEF = "07_brief.html"
USER_ENV = "CXLAB_SMTP_USER"
PASSWORD_ENV = "CXLAB_SMTP_PASSWORD"
_FIXED_ZIP_TIME = (2020, 1, 1, 0, 0, 0)


def _run_folder(run: str | os.PathLike) -> Path:
    p = Path(run)
    if p.is_dir() and (p / "latest").exists() and not (p / BRIEF).exists():
        p = p / "latest"
    p = p.resolve()  # 'latest' is a symlink: name the run by its id
    if not p.is_dir():
        raise CxlabError(f"run folder not found: {p}")
    return p


def zip_run(run_dir: str | os.PathLike) -> bytes:
    """Zip every file of a run folder (sorted, fixed timestamps, so the bytes are reproducible)."""
    root = _run_folder(run_dir)
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for path in sorted(p for p in root.rglob("*") if p.is_file()):
            info = zipfile.ZipInfo(str(Path(root.name) / path.relative_to(root)), _FIXED_ZIP_TIME)
            info.compress_type = zipfile.ZIP_DEFLATED
            zf.writestr(info, path.read_bytes())
    return buf.getvalue()


def build_message(
    run_dir: str | os.PathLike,
    *,
    to: list[str] | tuple[str, ...] | str,
    sender: str | None = None,
    subject: str | None = None,
    attach_run: bool = True,
) -> EmailMessage:
    """Build the email for a run.

    Parameters
    ----------
    run_dir : path-like
        A run folder (or a ``reports/<name>`` folder, meaning its ``latest``).
    to : str or list of str
        Recipients.
    sender : str, optional
        From address (default ``$CXLAB_SMTP_FROM`` or ``cxlab@localhost``).
    subject : str, optional
        Default: the run's title and name from ``manifest.json``.
    attach_run : bool
        Attach the whole run folder as ``<run-id>.zip``.

    Returns
    -------
    email.message.EmailMessage
        ``multipart/mixed``: a plain-text fallback and the brief's HTML, plus
        the zip attachment.

    Raises
    ------
    CxlabError
        The run has no brief (``07_brief.html``) or no recipients.
    """
    import json

    root = _run_folder(run_dir)
    brief = root / BRIEF
    if not brief.is_file():
        raise CxlabError(f"{root} has no {BRIEF}; run the workbench (cxlab run / cxlab demo) first")
    recipients = [to] if isinstance(to, str) else list(to)
    recipients = [r.strip() for r in recipients if r and r.strip()]
    if not recipients:
        raise CxlabError("no recipients: pass --to ADDRESS")
    manifest = {}
    if (root / "manifest.json").is_file():
        manifest = json.loads((root / "manifest.json").read_text())
    run = manifest.get("run") or manifest
    title = run.get("title") or "cxlab brief"
    name = run.get("name") or root.parent.name
    status = run.get("status", "ok")
    msg = EmailMessage()
    msg["Subject"] = subject or f"{title} — {name} ({root.name}){'' if status == 'ok' else ' [FAILED RUN]'}"
    msg["From"] = sender or os.environ.get("CXLAB_SMTP_FROM", "cxlab@localhost")
    msg["To"] = ", ".join(recipients)
    msg["Date"] = formatdate(localtime=False)
    msg["Message-ID"] = make_msgid(domain="cxlab.local")
    msg.set_content(
        f"{title}\n\nThe brief for run {root.name} is in the HTML part of this message; "
        "the full run (executed notebooks, HTML reports, manifest) is attached as a zip.\n"
    )
    msg.add_alternative(brief.read_text(encoding="utf-8"), subtype="html")
    if attach_run:
        msg.add_attachment(zip_run(root), maintype="application", subtype="zip", filename=f"{root.name}.zip")
    return msg


def send_run(
    run_dir: str | os.PathLike,
    *,
    to,
    smtp_host: str = "localhost",
    port: int = 25,
    starttls: bool = False,
    sender: str | None = None,
    subject: str | None = None,
    dry_run: bool = False,
    out: str | os.PathLike | None = None,
    timeout: float = 30.0,
) -> Path | None:
    """Send the brief of a run, or write it as an ``.eml`` file (``dry_run``).

    The SMTP login uses ``$CXLAB_SMTP_USER`` / ``$CXLAB_SMTP_PASSWORD`` when set
    (never arguments, so they cannot land in shell history or a config).

    Returns
    -------
    Path or None
        The ``.eml`` path for a dry run (default: next to the run folder, not in
        it, so the run folder stays byte-identical), else None.
    """
    msg = build_message(run_dir, to=to, sender=sender, subject=subject)
    root = _run_folder(run_dir)
    if dry_run:
        path = Path(out) if out else root.parent / f"{root.name}.eml"
        path.write_bytes(bytes(msg))
        return path
    user, password = os.environ.get(USER_ENV), os.environ.get(PASSWORD_ENV)
    try:
        with smtplib.SMTP(smtp_host, port, timeout=timeout) as smtp:
            if starttls:
                smtp.starttls()
            if user and password:
                smtp.login(user, password)
            smtp.send_message(msg)
    except (OSError, smtplib.SMTPException) as exc:
        raise CxlabError(f"could not send via {smtp_host}:{port}: {exc}") from None
    return None
