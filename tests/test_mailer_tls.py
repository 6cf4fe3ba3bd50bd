"""SMTP delivery on 127.0.0.1 (aiosmtpd) with certificates made in the test (issue 17, email).

The login (``$CXLAB_SMTP_USER`` / ``$CXLAB_SMTP_PASSWORD``) only ever travels
over TLS whose certificate verifies; every test asserts on what the *server*
logged (mechanism, login, password, whether the channel was TLS), so "refused"
means the password never reached it.
"""

from __future__ import annotations

import email
import shutil
import socket
import ssl
import subprocess
from email import policy

import pytest
from click.testing import CliRunner

from cxlab.brief import mailer
from cxlab.cli import main

aiosmtpd = pytest.importorskip("aiosmtpd")
from aiosmtpd.controller import Controller  # noqa: E402
from aiosmtpd.smtp import AuthResult  # noqa: E402
from test_email_message import make_brief_run  # noqa: E402

USER, PASSWORD = "reports@example.com", "hunter2-never-in-clear"


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _openssl(*args, cwd):
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True)


@pytest.fixture(scope="module")
def certs(tmp_path_factory):
    """A private CA, a server certificate for 127.0.0.1/localhost it signed, and one for evil.example."""
    if shutil.which("openssl") is None:
        pytest.skip("the openssl command is needed to make test certificates")
    d = tmp_path_factory.mktemp("certs")
    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
    _openssl("req", "-x509", *ec, "-keyout", "ca.key", "-out", "ca.pem", "-days", "2", "-subj", "/CN=cxlab test CA",
             "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign",
             cwd=d)
    for name, san in (("server", "IP:127.0.0.1,DNS:localhost"), ("evil", "DNS:evil.example")):
        (d / f"{name}.ext").write_text(
            f"subjectAltName={san}\nbasicConstraints=CA:FALSE\nkeyUsage=digitalSignature\n"
            "extendedKeyUsage=serverAuth\nsubjectKeyIdentifier=hash\nauthorityKeyIdentifier=keyid,issuer\n")
        cn = "localhost" if name == "server" else "evil.example"
        _openssl("req", *ec, "-keyout", f"{name}.key", "-out", f"{name}.csr", "-subj", f"/CN={cn}", cwd=d)
        _openssl("x509", "-req", "-in", f"{name}.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial",
                 "-out", f"{name}.pem", "-days", "2", "-extfile", f"{name}.ext", cwd=d)
    return d


class Recorder:
    """An aiosmtpd handler + authenticator that logs every EHLO, AUTH and message it receives."""

    def __init__(self):
        self.ehlo, self.auth, self.messages = [], [], []

    async def handle_EHLO(self, server, session, envelope, hostname, responses):
        session.host_name = hostname
        self.ehlo.append(hostname)
        return responses

    async def handle_DATA(self, server, session, envelope):
        self.messages.append(envelope)
        return "250 OK"

    def __call__(self, server, session, envelope, mechanism, auth_data):
        tls = server._tls_protocol is not None or server.transport.get_extra_info("sslcontext") is not None
        self.auth.append({"mechanism": mechanism, "login": auth_data.login.decode(),
                          "password": auth_data.password.decode(), "tls": tls})
        ok = auth_data.login.decode() == USER and auth_data.password.decode() == PASSWORD
        return AuthResult(success=ok, handled=False)


def _server_ctx(certs, name="server"):
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.load_cert_chain(certs / f"{name}.pem", certs / f"{name}.key")
    return ctx


@pytest.fixture
def smtp_server(certs):
    """Start servers on demand: mode 'plain' (offers AUTH without TLS), 'starttls' or 'ssl' (implicit TLS)."""
    started = []

    def start(mode, cert="server"):
        rec, port = Recorder(), _free_port()
        kw = {"authenticator": rec, "auth_require_tls": mode != "plain" and mode != "ssl",
              "auth_exclude_mechanism": ["LOGIN"]}  # AUTH PLAIN only: one answer per login attempt
        if mode == "plain-noauth":
            kw = {}
        if mode == "starttls":
            kw["tls_context"] = _server_ctx(certs, cert)
        if mode == "ssl":
            kw["ssl_context"] = _server_ctx(certs, cert)
            kw["auth_require_tls"] = False  # the whole connection is TLS
        ctl = Controller(rec, hostname="127.0.0.1", port=port, **kw)
        ctl.start()
        started.append(ctl)
        return rec, port

    yield start
    for ctl in started:
        ctl.stop()


@pytest.fixture
def run(tmp_path):
    return make_brief_run(tmp_path, pdf=True)


@pytest.fixture
def creds(monkeypatch):
    monkeypatch.setenv(mailer.USER_ENV, USER)
    monkeypatch.setenv(mailer.PASSWORD_ENV, PASSWORD)


def test_plain_auth_is_refused_before_connecting(smtp_server, run, creds):
    rec, port = smtp_server("plain")  # a server that would accept AUTH PLAIN over plain TCP (the audit's setup)
    with pytest.raises(mailer.MailError, match=r"refusing to send the SMTP password to 127\.0\.0\.1 over plain TCP"):
        mailer.send_run(run, to="cco@example.com", smtp_host="127.0.0.1", port=port, timeout=5)
    assert rec.auth == [] and rec.ehlo == [] and rec.messages == []  # not even a connection


def test_plain_auth_refused_by_the_cli_in_one_line(smtp_server, run, creds):
    rec, port = smtp_server("plain")
    res = CliRunner().invoke(main, ["email", str(run), "--to", "cco@example.com", "--smtp-host", "127.0.0.1",
                                    "--port", str(port)])
    assert res.exit_code == 2
    assert res.output.startswith("error: refusing to send the SMTP password") and res.output.count("\n") == 1
    assert "Traceback" not in res.output and PASSWORD not in res.output
    assert rec.auth == [] and rec.messages == []


def test_starttls_with_an_untrusted_certificate_is_refused(smtp_server, run, creds):
    rec, port = smtp_server("starttls")  # signed by the test CA, which the system store does not trust
    with pytest.raises(mailer.MailError, match=r"TLS certificate of 127\.0\.0\.1:\d+ does not verify.*--cafile"):
        mailer.send_run(run, to="cco@example.com", smtp_host="127.0.0.1", port=port, starttls=True, timeout=5)
    assert rec.auth == [] and rec.messages == []


def test_starttls_with_cafile_is_accepted(smtp_server, run, creds, certs):
    rec, port = smtp_server("starttls")
    mailer.send_run(run, to="cco@example.com", smtp_host="127.0.0.1", port=port, starttls=True,
                    cafile=certs / "ca.pem", timeout=5)
    assert rec.auth == [{"mechanism": rec.auth[0]["mechanism"], "login": USER, "password": PASSWORD, "tls": True}]
    (env,) = rec.messages
    msg = email.message_from_bytes(env.content, policy=policy.default)
    assert env.rcpt_tos == ["cco@example.com"] and msg["Subject"].startswith("CX brief — pilot: held")
    assert [a.get_filename() for a in msg.iter_attachments()] == ["07_brief.pdf"]
    assert PASSWORD.encode() not in env.content


def test_certificate_for_another_host_is_refused_even_with_cafile(smtp_server, run, creds, certs):
    rec, port = smtp_server("starttls", cert="evil")  # trusted CA, but the certificate names evil.example
    with pytest.raises(mailer.MailError, match="does not verify"):
        mailer.send_run(run, to="cco@example.com", smtp_host="127.0.0.1", port=port, starttls=True,
                        cafile=certs / "ca.pem", timeout=5)
    assert rec.auth == []


def test_starttls_not_offered_is_refused(smtp_server, run, creds, certs):
    rec, port = smtp_server("plain")
    with pytest.raises(mailer.MailError, match="does not offer STARTTLS"):
        mailer.send_run(run, to="cco@example.com", smtp_host="127.0.0.1", port=port, starttls=True,
                        cafile=certs / "ca.pem", timeout=5)
    assert rec.auth == [] and rec.messages == []


def test_implicit_tls_works(smtp_server, run, creds, certs):
    rec, port = smtp_server("ssl")
    res = CliRunner().invoke(main, ["email", str(run), "--to", "cco@example.com", "--smtp-host", "127.0.0.1",
                                    "--port", str(port), "--ssl", "--cafile", str(certs / "ca.pem")])
    assert res.exit_code == 0, res.output
    assert "sent to cco@example.com" in res.output
    assert [(a["login"], a["password"], a["tls"]) for a in rec.auth] == [(USER, PASSWORD, True)]
    assert len(rec.messages) == 1


def test_implicit_tls_untrusted_is_refused(smtp_server, run, creds):
    rec, port = smtp_server("ssl")
    with pytest.raises(mailer.MailError, match="does not verify"):
        mailer.send_run(run, to="cco@example.com", smtp_host="127.0.0.1", port=port, use_ssl=True, timeout=5)
    assert rec.auth == []


def test_insecure_to_loopback_works(smtp_server, run, creds):
    rec, port = smtp_server("plain")
    mailer.send_run(run, to="cco@example.com", smtp_host="127.0.0.1", port=port, insecure=True, timeout=5)
    # the explicit opt-in for a local test server: the password went in clear, to loopback only
    assert [(a["password"], a["tls"]) for a in rec.auth] == [(PASSWORD, False)] and len(rec.messages) == 1


@pytest.mark.parametrize("host", ["192.0.2.10", "smtp.example.com", "127.0.0.1.example.com"])
def test_insecure_to_a_non_loopback_host_is_refused(run, creds, host):
    with pytest.raises(mailer.MailError, match=r"--insecure is allowed only for a loopback test server"):
        mailer.send_run(run, to="cco@example.com", smtp_host=host, port=25, insecure=True, timeout=1)


def test_no_login_over_plain_tcp_is_allowed(smtp_server, run, monkeypatch):
    """Without credentials nothing secret is at stake: a local relay on port 25 still works."""
    monkeypatch.delenv(mailer.USER_ENV, raising=False)
    monkeypatch.delenv(mailer.PASSWORD_ENV, raising=False)
    rec, port = smtp_server("plain-noauth")
    mailer.send_run(run, to=["ops@example.com", "cfo@example.com"], smtp_host="127.0.0.1", port=port, timeout=5)
    assert rec.auth == [] and sorted(rec.messages[0].rcpt_tos) == ["cfo@example.com", "ops@example.com"]


def test_half_set_credentials_are_an_error(run, monkeypatch):
    monkeypatch.setenv(mailer.USER_ENV, USER)
    monkeypatch.delenv(mailer.PASSWORD_ENV, raising=False)
    with pytest.raises(mailer.MailError, match=r"\$CXLAB_SMTP_PASSWORD is not set but \$CXLAB_SMTP_USER is"):
        mailer.send_run(run, to="a@b", smtp_host="127.0.0.1", starttls=True)


def test_starttls_and_ssl_together_are_refused(run, creds):
    with pytest.raises(mailer.MailError, match="choose one of --starttls"):
        mailer.send_run(run, to="a@b", smtp_host="127.0.0.1", starttls=True, use_ssl=True)


def test_wrong_password_is_a_one_line_error(smtp_server, run, certs, monkeypatch):
    monkeypatch.setenv(mailer.USER_ENV, USER)
    monkeypatch.setenv(mailer.PASSWORD_ENV, "wrong-password")
    rec, port = smtp_server("starttls")
    with pytest.raises(mailer.MailError, match=r"refused the login of \$CXLAB_SMTP_USER \(SMTP 535\)") as exc:
        mailer.send_run(run, to="a@b", smtp_host="127.0.0.1", port=port, starttls=True, cafile=certs / "ca.pem",
                        timeout=5)
    assert "wrong-password" not in str(exc.value) and rec.auth[0]["tls"] is True


def test_is_loopback():
    assert all(map(mailer.is_loopback, ["127.0.0.1", "127.8.9.10", "::1", "[::1]", "localhost", "LOCALHOST."]))
    assert not any(map(mailer.is_loopback, ["0.0.0.0", "10.0.0.1", "::", "localhost.example.com", "", "127.0.0.1.nip.io"]))
