"""Deliver a run's brief by email: an email-safe body, the brief's PDF, the run zip only on request.

What leaves the machine
-----------------------
* The **body** is built from the executed ``07_brief.ipynb`` of the run (its
  outputs only, never code): Markdown rendered with nbconvert's mistune
  renderer, HTML outputs as they are, images as inline ``cid:`` parts of a
  ``multipart/related`` body (no ``data:`` URI anywhere), ``<details>``
  unfolded, a few inline styles instead of JupyterLab's CSS (under
  :data:`BODY_LIMIT` bytes, so Gmail does not clip it), and a ``text/plain``
  alternative carrying the same text and numbers.
* The **attachments** are, by default, only the brief's PDF (``07_brief.pdf``
  of the run, else printed from ``07_brief.html`` with headless Chromium; sent
  without it, with a note, when Chromium is absent). The HTML reports are
  attached on request (``attach_html``); the run zip only on request
  (``attach_run``), and even then without ``quarantine/`` or any raw-data
  file unless the run config's ``privacy.allow_raw_rows`` is true — and then
  with customer ids and comments removed unless ``allow_customer_ids`` /
  ``allow_comments`` say otherwise. ``config.yaml`` and ``manifest.json`` in the
  zip are re-redacted (:func:`redact_secrets`).

Credentials
-----------
They come only from environment variables (:data:`USER_ENV`,
:data:`PASSWORD_ENV`) and are sent only over TLS whose certificate verifies:
STARTTLS (``starttls``) or implicit TLS (``use_ssl``, port 465), with
``ssl.create_default_context(cafile=...)``. Sending them over plain TCP is
refused before any connection is made; the one exception is ``insecure``
*and* a loopback host (a local test server). They are never written to a
notebook, the run folder or the ``.eml`` of a dry run.
"""


from __future__ import annotations

import ipaddress
import os
import re
import smtplib
import ssl
import unicodedata
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from pathlib import Path

from ..redact import redact_secrets
from ._run import (
    _CONTROL,
    BODY_LIMIT,
    BRIEF,
    BRIEF_NB,
    BRIEF_PDF,
    FROM_ENV,
    PASSWORD_ENV,
    USER_ENV,
    MailError,
    _run_folder,
    _run_meta,
)
from .attachments import _brief_pdf, _verdict, zip_run  # noqa: F401
from .email_body import EmailBody, email_body, html_to_text  # noqa: F401

__all__ = [
    "MailError",
    "EmailBody",
    "email_body",
    "html_to_text",
    "redact_secrets",
    "check_address",
    "check_header",
    "is_loopback",
    "check_transport",
    "zip_run",
    "build_message",
    "send_run",
    "BRIEF",
    "BRIEF_NB",
    "BRIEF_PDF",
    "BODY_LIMIT",
    "USER_ENV",
    "PASSWORD_ENV",
]


# RFC 5322 dot-atom local part (ASCII) @ a domain of letters, digits, '-' and '.', or an IP literal
_ADDR = re.compile(
    r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*"
    r"@([A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*"
    r"|\[[0-9A-Fa-f:.]+\])"
)


def check_header(name: str, value: str, *, max_len: int = 900) -> str:
    """Return ``value`` if it is a safe one-line header value, else raise :class:`MailError`.

    Parameters
    ----------
    name : str
        The option it came from (named in the message), e.g. ``"--subject"``.
    value : str
        The header value.
    max_len : int
        Longest value accepted (RFC 5322 lines are at most 998 characters).

    Raises
    ------
    MailError
        The value holds a line break or another control character (a header
        injection), or is too long.

    Examples
    --------
    >>> check_header("--subject", "CX brief — pilot: held")
    'CX brief — pilot: held'
    >>> check_header("--subject", "hi\\nBcc: x@evil.example")
    Traceback (most recent call last):
    ...
    cxlab.errors.MailError: --subject contains a line break or control character at position 2 ...
    """
    value = "" if value is None else str(value)
    m = _CONTROL.search(value)
    if m:
        raise MailError(
            f"{name} contains a line break or control character at position {m.start()} "
            f"({unicodedata.name(m.group(), repr(m.group()))}); a header value must be one line"
        )
    if len(value) > max_len:
        raise MailError(f"{name} is {len(value)} characters long; at most {max_len} are accepted")
    return value


def check_address(name: str, value: str) -> str:
    """Validate one email address (``user@host`` or ``Name <user@host>``) and return it stripped.

    Raises
    ------
    MailError
        A line break or control character, or not one ``local@domain`` address
        (several addresses in one value must be separated by commas and are
        split by :func:`build_message`).

    Examples
    --------
    >>> check_address("--to", " Chief CX <cco@example.com> ")
    'Chief CX <cco@example.com>'
    >>> check_address("--to", "cco@example.com>")
    Traceback (most recent call last):
    ...
    cxlab.errors.MailError: --to: 'cco@example.com>' is not an email address (expected user@domain)
    """
    value = check_header(name, value).strip()
    m = re.fullmatch(r"(?P<name>[^<>@]*)<(?P<addr>[^<>]+)>", value)
    addr = m["addr"].strip() if m else value
    if not _ADDR.fullmatch(addr):
        raise MailError(f"{name}: {value!r} is not an email address (expected user@domain)")
    return value


def is_loopback(host: str) -> bool:
    """Whether ``host`` is a loopback address literal (127.0.0.0/8, ``::1``) or ``localhost``.

    Names other than ``localhost`` are not resolved: a DNS answer must not
    turn a remote host into an "insecure is fine" one.

    Examples
    --------
    >>> [is_loopback(h) for h in ("127.0.0.1", "::1", "localhost", "10.0.0.1", "smtp.example.com")]
    [True, True, True, False, False]
    """
    h = (host or "").strip().strip("[]").lower().rstrip(".")
    if h in ("localhost", "localhost.localdomain"):
        return True
    try:
        return ipaddress.ip_address(h).is_loopback
    except ValueError:
        return False



# --------------------------------------------------------------------------------------------- message


def _recipients(to) -> list[str]:
    items = [to] if isinstance(to, str) else list(to or [])
    out = []
    for item in items:
        for part in check_header("--to", item).split(","):
            if part.strip():
                out.append(check_address("--to", part))
    if not out:
        raise MailError("no recipients: pass --to ADDRESS")
    return out


def build_message(
    run_dir: str | os.PathLike,
    *,
    to: list[str] | tuple[str, ...] | str,
    sender: str | None = None,
    subject: str | None = None,
    attach_run: bool = False,
    attach_html: bool = False,
    pdf: bool = True,
    notes: list | None = None,
) -> EmailMessage:
    """Build the email for a run.

    Parameters
    ----------
    run_dir : path-like
        A run folder (or a ``reports/<name>`` folder, meaning its ``latest``).
    to : str or list of str
        Recipients (a value may hold several, comma-separated).
    sender : str, optional
        From address (default ``$CXLAB_SMTP_FROM`` or ``cxlab@localhost``).
    subject : str, optional
        Default: ``"<title> — pilot: <verdict> · <name> (<run-id>)"``, the
        verdict part only when step 6 recorded one; ``[FAILED RUN]`` is
        appended for a failed run.
    attach_run : bool
        Attach the run folder as ``<run-id>.zip`` (see :func:`zip_run` for
        what is left out). Off by default.
    attach_html : bool
        Attach the HTML reports (``*.html`` of the run folder).
    pdf : bool
        Attach the brief as PDF (``07_brief.pdf`` of the run, else printed
        with headless Chromium; skipped with a note when that fails).
    notes : list, optional
        Receives one line per thing the reader should know (no PDF, files
        left out, a body over :data:`BODY_LIMIT`).

    Returns
    -------
    email.message.EmailMessage
        ``multipart/mixed``: ``multipart/alternative`` (``text/plain``, then
        ``multipart/related`` with the HTML and its inline images), then the
        attachments.

    Raises
    ------
    MailError
        No brief in the run, no recipients, or a header value with a line
        break / an address that is not one.

    Examples
    --------
    >>> msg = build_message(run, to="cco@example.com", pdf=False)  # doctest: +SKIP
    >>> [p.get_content_type() for p in msg.walk()]  # doctest: +SKIP
    ['multipart/mixed', 'multipart/alternative', 'text/plain', 'multipart/related', 'text/html', 'image/png']
    """
    notes = [] if notes is None else notes
    root = _run_folder(run_dir)
    recipients = _recipients(to)
    if sender:
        sender = check_address("--sender", sender)
    else:
        sender = check_address(f"${FROM_ENV}", os.environ.get(FROM_ENV) or "cxlab@localhost")
    meta = _run_meta(root)
    if subject is None:
        verdict = _verdict(root)
        subject = f"{meta['title']} — " + (f"pilot: {verdict} · " if verdict else "") + f"{meta['name']} ({root.name})"
        subject += "" if meta["status"] == "ok" else " [FAILED RUN]"
    subject = check_header("--subject", subject)
    body = email_body(root, title=meta["title"])
    if body.size > BODY_LIMIT:
        notes.append(f"the HTML body is {body.size:,} bytes, over the {BODY_LIMIT:,} at which some clients "
                     "(Gmail) clip it")

    msg = EmailMessage()
    msg["Subject"] = subject
    msg["From"] = sender
    msg["To"] = ", ".join(recipients)
    msg["Date"] = formatdate(localtime=False)
    msg["Message-ID"] = make_msgid(domain="cxlab.local")
    msg.set_content(body.text)
    msg.add_alternative(body.html, subtype="html")
    html_part = msg.get_payload()[1]
    for cid, sub, data, _alt in body.images:
        html_part.add_related(data, maintype="image", subtype=sub, cid=f"<{cid}>", disposition="inline",
                              filename=f"{cid.split('@')[0]}.{'jpg' if sub == 'jpeg' else sub}")
    if pdf:
        data = _brief_pdf(root, notes)
        if data is not None:
            msg.add_attachment(data, maintype="application", subtype="pdf", filename=BRIEF_PDF)
    if attach_html:
        for path in sorted(root.glob("*.html")):
            msg.add_attachment(path.read_bytes(), maintype="text", subtype="html", filename=path.name)
    if attach_run:
        msg.add_attachment(zip_run(root, notes=notes), maintype="application", subtype="zip",
                           filename=f"{root.name}.zip")
    return msg



# ------------------------------------------------------------------------------------------------ send


def _credentials() -> tuple[str, str] | None:
    user, password = os.environ.get(USER_ENV), os.environ.get(PASSWORD_ENV)
    if bool(user) != bool(password):
        missing = PASSWORD_ENV if user else USER_ENV
        raise MailError(f"${missing} is not set but ${USER_ENV if user else PASSWORD_ENV} is: set both for an "
                        "SMTP login, or neither for a server without one")
    return (user, password) if user else None


def check_transport(host: str, *, starttls: bool, use_ssl: bool, insecure: bool, login: bool,
                    cafile: str | os.PathLike | None = None) -> None:
    """Refuse an unsafe way to reach the SMTP server, before any connection is made.

    Raises
    ------
    MailError
        Both ``starttls`` and ``use_ssl``; ``insecure`` towards a host that is
        not loopback; a login (credentials set) over plain TCP without
        ``insecure``; a ``cafile`` that does not exist.

    Examples
    --------
    >>> check_transport("smtp.example.com", starttls=True, use_ssl=False, insecure=False, login=True)
    >>> check_transport("smtp.example.com", starttls=False, use_ssl=False, insecure=False, login=True)
    Traceback (most recent call last):
    ...
    cxlab.errors.MailError: refusing to send the SMTP password to smtp.example.com over plain TCP: ...
    """
    if starttls and use_ssl:
        raise MailError("choose one of --starttls (upgrade a plain connection, port 587) and --ssl "
                        "(implicit TLS, port 465)")
    if insecure and not is_loopback(host):
        raise MailError(f"--insecure is allowed only for a loopback test server (127.0.0.1, ::1, localhost); "
                        f"{host!r} is not one")
    if login and not (starttls or use_ssl) and not insecure:
        raise MailError(f"refusing to send the SMTP password to {host} over plain TCP: use --starttls "
                        "(port 587) or --ssl (port 465); --insecure is only for a loopback test server")
    if cafile is not None and not Path(cafile).is_file():
        raise MailError(f"--cafile {cafile}: file not found")


def send_run(
    run_dir: str | os.PathLike,
    *,
    to,
    smtp_host: str = "localhost",
    port: int | None = None,
    starttls: bool = False,
    use_ssl: bool = False,
    cafile: str | os.PathLike | None = None,
    insecure: bool = False,
    sender: str | None = None,
    subject: str | None = None,
    attach_run: bool = False,
    attach_html: bool = False,
    pdf: bool = True,
    dry_run: bool = False,
    out: str | os.PathLike | None = None,
    timeout: float = 30.0,
    notes: list | None = None,
) -> Path | None:
    """Send the brief of a run, or write it as an ``.eml`` file (``dry_run``).

    The SMTP login uses ``$CXLAB_SMTP_USER`` / ``$CXLAB_SMTP_PASSWORD`` when
    set (never arguments, so they cannot land in shell history or a config),
    and only over verified TLS: ``starttls`` (STARTTLS, port 587 by default)
    or ``use_ssl`` (implicit TLS, port 465), both with
    ``ssl.create_default_context(cafile=cafile)``. Without TLS the login is
    refused before connecting, unless ``insecure`` and ``smtp_host`` is a
    loopback address (a local test server). Other parameters: see
    :func:`build_message`.

    Returns
    -------
    Path or None
        The ``.eml`` path for a dry run (default: next to the run folder, not in
        it, so the run folder stays byte-identical), else None.

    Raises
    ------
    MailError
        An unsafe transport (see :func:`check_transport`), a certificate that
        does not verify, a refused login or a failed delivery: one line naming
        the server.
    """
    notes = [] if notes is None else notes
    creds = None if dry_run else _credentials()
    if not dry_run:
        check_transport(smtp_host, starttls=starttls, use_ssl=use_ssl, insecure=insecure,
                        login=creds is not None, cafile=cafile)
    msg = build_message(run_dir, to=to, sender=sender, subject=subject, attach_run=attach_run,
                        attach_html=attach_html, pdf=pdf, notes=notes)
    root = _run_folder(run_dir)
    if dry_run:
        path = Path(out) if out else root.parent / f"{root.name}.eml"
        path.write_bytes(bytes(msg))
        return path
    port = port or (465 if use_ssl else 587 if starttls else 25)
    where = f"{smtp_host}:{port}"
    context = ssl.create_default_context(cafile=str(cafile) if cafile else None)
    try:
        if use_ssl:
            smtp = smtplib.SMTP_SSL(smtp_host, port, timeout=timeout, context=context)
        else:
            smtp = smtplib.SMTP(smtp_host, port, timeout=timeout)
        with smtp:
            smtp.ehlo()
            if starttls:
                if not smtp.has_extn("starttls"):
                    raise MailError(f"{where} does not offer STARTTLS; refusing to continue without TLS "
                                    "(try --ssl on port 465)")
                smtp.starttls(context=context)
                smtp.ehlo()
            if creds is not None:
                smtp.login(*creds)
            smtp.send_message(msg)
    except ssl.SSLCertVerificationError as exc:
        raise MailError(f"the TLS certificate of {where} does not verify ({exc.verify_message}); refusing to "
                        "send (for a private CA pass --cafile CA.pem)") from None
    except smtplib.SMTPAuthenticationError as exc:
        raise MailError(f"{where} refused the login of ${USER_ENV} (SMTP {exc.smtp_code})") from None
    except smtplib.SMTPNotSupportedError as exc:
        raise MailError(f"{where}: {str(exc).splitlines()[0] if str(exc) else 'command not supported'}") from None
    except (OSError, smtplib.SMTPException) as exc:
        raise MailError(f"could not send via {where}: {str(exc).splitlines()[0] if str(exc) else type(exc).__name__}") from None
    return None

