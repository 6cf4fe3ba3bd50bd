"""Secrets out of what leaves the machine: passwords and tokens in configs, queries, manifests.

Used for the ``config.yaml`` a run copies and for every text file zipped into an email.
A value written as ``${NAME}`` (an environment-variable reference) is kept as written.
"""

from __future__ import annotations

import re

__all__ = ["redact_secrets", "redact_config", "REDACTED"]

_SECRET_KEYS = r"(?:password|passwd|pass|pwd|token|access_token|auth_token|secret|client_secret|api[_-]?key|apikey|access[_-]?key|private[_-]?key|sig)"
# YAML keys named like a secret: a whole word of the key (db_password, api-key, token), not 'design' or 'bypass'
_SECRET_WORDS = r"(?:password|passwd|pwd|token|secret|api[_-]?key|apikey|access[_-]?key|private[_-]?key|credentials?)"
_REDACTED = REDACTED = "***"
_URL_PASSWORD = re.compile(r"(?P<pre>\b[A-Za-z][A-Za-z0-9+.\-]*://[^\s:/@'\"]*:)(?P<pw>[^\s@/'\"]+)(?P<at>@)")
_KEY_VALUE = re.compile(
    rf"(?P<pre>(?<![A-Za-z0-9_]){_SECRET_KEYS}\s*=\s*)(?P<val>'[^']*'|\"[^\"]*\"|[^\s;&'\",)]+)", re.IGNORECASE
)
_YAML_KEY = re.compile(
    rf"(?P<pre>^\s*-?\s*['\"]?(?:[A-Za-z0-9]+[_-])*{_SECRET_WORDS}(?:[_-][A-Za-z0-9]+)*['\"]?\s*:[ \t]+)(?P<val>\S.*?)\s*$",
    re.IGNORECASE | re.MULTILINE,
)
_BEARER = re.compile(r"(?P<pre>\b(?:bearer|basic)\s+)(?P<val>[A-Za-z0-9._~+/\-]{8,}=*)", re.IGNORECASE)
# a long mixed-case-and-digit word: API keys and tokens (ghp_…, sk-…, AKIA…); paths and names rarely qualify
_TOKEN = re.compile(r"(?<![A-Za-z0-9_\-])(?=[A-Za-z0-9_\-]*[a-z])(?=[A-Za-z0-9_\-]*[A-Z])(?=[A-Za-z0-9_\-]*[0-9])"
                    r"[A-Za-z0-9_\-]{24,}(?![A-Za-z0-9_\-])")


# SQL: PASSWORD 'value' / SECRET 'value' / IDENTIFIED BY 'value'
_SQL_LITERAL = re.compile(rf"(?P<pre>\b(?:{_SECRET_KEYS}|identified\s+by)\s+)(?P<val>'[^']*')", re.IGNORECASE)
# ?token=... / &api_key=... in a URL query string
_QUERY_PARAM = re.compile(rf"(?P<pre>[?&]{_SECRET_KEYS}=)(?P<val>[^&\s'\"]+)", re.IGNORECASE)


def _quoted(value: str) -> str:
    """``***`` in the quotes the secret had (a query stays valid SQL)."""
    q = value[0] if len(value) > 1 and value[0] in "'\"" and value[-1] == value[0] else ""
    return f"{q}{_REDACTED}{q}"


def _keep(value: str) -> bool:
    v = value.strip("'\"")
    return v.startswith("${") or v in ("", _REDACTED, "null", "~") or v.startswith("$")


def redact_secrets(text: str, *, tokens: bool = True) -> str:
    """Replace secrets in config-like text with ``***``.

    Redacts the password of a URL/DSN (``postgresql://user:pw@host/db``),
    ``password=`` / ``pwd=`` / ``token=`` / ``secret=`` / ``api_key=`` values
    (in queries, ODBC strings, URLs), YAML keys named like a secret
    (``password: …``), ``Bearer`` credentials and, with ``tokens``, long words
    mixing upper case, lower case and digits (API keys). ``${ENV}``
    references are kept as written: they are how a secret should be given.

    Notes
    -----
    This is a defensive second pass over files that leave the machine; the
    run writer redacts ``config.yaml`` when the run is written.

    Examples
    --------
    >>> redact_secrets("dsn: postgresql://ana:s3cr3t@db.example/cx")
    'dsn: postgresql://ana:***@db.example/cx'
    >>> redact_secrets("query: SELECT * FROM t -- pwd=hunter2; token='abc'")
    "query: SELECT * FROM t -- pwd=***; token='***'"
    >>> redact_secrets("password: ${CX_DB_PASSWORD}")
    'password: ${CX_DB_PASSWORD}'
    >>> redact_secrets("SELECT * FROM t WHERE api_key = 'k-123'")
    "SELECT * FROM t WHERE api_key = '***'"
    >>> redact_secrets("https://api.example/x?token=abc123&page=2")
    'https://api.example/x?token=***&page=2'
    >>> redact_secrets("CREATE SECRET s (TYPE s3, SECRET 'abc')")
    "CREATE SECRET s (TYPE s3, SECRET '***')"
    """
    if not isinstance(text, str) or not text:
        return text
    text = _URL_PASSWORD.sub(lambda m: m.group(0) if _keep(m["pw"]) else f"{m['pre']}{_REDACTED}{m['at']}", text)
    text = _QUERY_PARAM.sub(lambda m: m.group(0) if _keep(m["val"]) else f"{m['pre']}{_REDACTED}", text)
    text = _SQL_LITERAL.sub(lambda m: m.group(0) if _keep(m["val"]) else f"{m['pre']}'{_REDACTED}'", text)
    text = _KEY_VALUE.sub(lambda m: m.group(0) if _keep(m["val"]) else f"{m['pre']}{_quoted(m['val'])}", text)
    text = _YAML_KEY.sub(lambda m: m.group(0) if _keep(m["val"]) else f"{m['pre']}'{_REDACTED}'", text)
    text = _BEARER.sub(lambda m: f"{m['pre']}{_REDACTED}", text)
    if tokens:
        text = _TOKEN.sub(_REDACTED, text)
    return text



_SECRET_KEY = re.compile(rf"^(?:[A-Za-z0-9]+[_-])*{_SECRET_WORDS}(?:[_-][A-Za-z0-9]+)*$", re.IGNORECASE)


def redact_config(value, key: str = ""):
    """A copy of a parsed config (or JSON document) with secrets redacted.

    The whole string value of a key named like a secret (``password``,
    ``db_password``, ``token``, ``api_key``, …) becomes ``***`` unless it is an
    ``${ENV}`` reference; every other string goes through
    :func:`redact_secrets` (without the long-token rule, so ids and hashes
    stay readable).

    Examples
    --------
    >>> redact_config({"sources": {"calls": {"query": "SELECT 1", "path": "mysql://u:pw@h/db"}},
    ...                "steps": {"05": {"token": "abc"}}, "dsn_password": "${PW}"})
    {'sources': {'calls': {'query': 'SELECT 1', 'path': 'mysql://u:***@h/db'}}, 'steps': {'05': {'token': '***'}}, 'dsn_password': '${PW}'}
    """
    if isinstance(value, dict):
        return {k: redact_config(v, str(k)) for k, v in value.items()}
    if isinstance(value, list):
        return [redact_config(v, key) for v in value]
    if isinstance(value, str):
        if _SECRET_KEY.match(key) and not _keep(value):
            return _REDACTED
        return redact_secrets(value, tokens=False)
    return value


_redact_json = redact_config


