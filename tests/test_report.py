"""Brief helpers and email delivery (local SMTP server, dry run, secrets)."""

import email
import io
import json
import socket
import zipfile
from email import policy

import pytest

from cxlab.brief import mailer
from cxlab.brief import sections as report
from cxlab.errors import CxlabError


def make_run(root, name, status="ok", value=80.0, moe=2.0):
    run = root / "demo" / name
    (run / "results").mkdir(parents=True)
    # the manifest schema of cxlab.run: run metadata under "run"
    (run / "manifest.json").write_text(json.dumps({"schema": 1, "run": {"name": "demo", "title": "CX brief",
                                                                       "status": status}}))
    (run / "results" / "01_cx_metric.json").write_text(json.dumps({"headline": {"value": value, "moe": moe}}))
    (run / "07_brief.html").write_text("<html><body><h1>Brief</h1><p>CSAT 80%</p></body></html>")
    (run / "01_cx_metric.html").write_text("<html><body>step 1</body></html>")
    return run


def test_previous_run_skips_failed_runs(tmp_path):
    a = make_run(tmp_path, "20250101T000000Z-aaaa")
    make_run(tmp_path, "20250102T000000Z-bbbb", status="failed")
    c = make_run(tmp_path, "20250103T000000Z-cccc")
    assert report.previous_run(c) == a
    assert report.previous_run(a) is None


def test_headline_changes_margin_rule():
    # change 5 > sqrt(2^2 + 2^2) = 2.83 -> moved; change 2 < 2.83 -> not moved
    cur = {"01": {"headline": {"value": 80.0, "moe": 2.0}, "other": {"value": 10.0, "ci_low": 8.0, "ci_high": 12.0}}}
    prev = {"01": {"headline": {"value": 75.0, "moe": 2.0}, "other": {"value": 12.0, "ci_low": 10.0, "ci_high": 14.0}}}
    out = report.headline_changes(cur, prev).set_index("key")
    assert out.loc["headline", "moved"] and out.loc["headline", "margin"] == pytest.approx(8 ** 0.5)
    assert not out.loc["other", "moved"] and out.loc["other", "change"] == -2.0
    first = report.headline_changes(cur, None)
    assert not first["moved"].any() and len(first) == 2


def test_privacy_scan_whole_tokens(tmp_path):
    (tmp_path / "a.html").write_text("<td>C10</td> customer C1 said hi; pw=s3cr3t!x")
    hits = report.privacy_scan(tmp_path, ["C1", "C2", "s3cr3t!x"])
    assert sorted(hits["needle"]) == ["C1", "s3cr3t!x"]
    assert report.privacy_scan(tmp_path, ["C2"]).empty


def test_dry_run_writes_eml_outside_the_run(tmp_path, monkeypatch):
    run = make_run(tmp_path, "20250101T000000Z-aaaa")
    monkeypatch.setenv(mailer.PASSWORD_ENV, "hunter2-very-secret")
    before = sorted(p.name for p in run.rglob("*"))
    eml = mailer.send_run(run, to=["ceo@example.com"], dry_run=True)
    assert eml.parent == run.parent and eml.is_file()
    assert sorted(p.name for p in run.rglob("*")) == before  # the run folder is untouched
    raw = eml.read_bytes()
    assert b"hunter2-very-secret" not in raw
    msg = email.message_from_bytes(raw, policy=policy.default)
    assert msg["To"] == "ceo@example.com" and "CX brief" in msg["Subject"]


def test_build_message_errors(tmp_path):
    with pytest.raises(CxlabError, match="run folder not found"):
        mailer.build_message(tmp_path / "nope", to="a@b")
    empty = tmp_path / "r"
    empty.mkdir()
    with pytest.raises(CxlabError, match="has no 07_brief.ipynb or 07_brief.html"):
        mailer.build_message(empty, to="a@b")
    run = make_run(tmp_path, "x")
    with pytest.raises(CxlabError, match="no recipients"):
        mailer.build_message(run, to=[])


def test_latest_symlink_resolves_to_the_run_id(tmp_path):
    run = make_run(tmp_path, "20250101T000000Z-aaaa")
    (run.parent / "latest").symlink_to(run.name)
    msg = mailer.build_message(run.parent / "latest", to="a@b", pdf=False, attach_run=True)
    assert "(20250101T000000Z-aaaa)" in msg["Subject"]
    assert [a.get_filename() for a in msg.iter_attachments()] == ["20250101T000000Z-aaaa.zip"]
    assert mailer.build_message(run.parent, to="a@b", pdf=False)["Subject"] == msg["Subject"]  # reports/<name> means latest


def test_zip_is_reproducible(tmp_path):
    run = make_run(tmp_path, "20250101T000000Z-aaaa")
    assert mailer.zip_run(run) == mailer.zip_run(run)


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_send_to_local_smtp_server(tmp_path, monkeypatch):
    from aiosmtpd.controller import Controller

    class Sink:
        def __init__(self):
            self.messages = []

        async def handle_DATA(self, server, session, envelope):
            self.messages.append(envelope)
            return "250 OK"

    sink = Sink()
    port = _free_port()
    ctl = Controller(sink, hostname="127.0.0.1", port=port)
    ctl.start()
    try:
        run = make_run(tmp_path, "20250101T000000Z-aaaa")
        monkeypatch.delenv(mailer.USER_ENV, raising=False)
        mailer.send_run(run, to=["ops@example.com", "cfo@example.com"], smtp_host="127.0.0.1", port=port,
                        pdf=False, attach_run=True)
    finally:
        ctl.stop()
    assert len(sink.messages) == 1
    env = sink.messages[0]
    assert sorted(env.rcpt_tos) == ["cfo@example.com", "ops@example.com"]
    msg = email.message_from_bytes(env.content, policy=policy.default)
    assert msg["Subject"] == "CX brief — demo (20250101T000000Z-aaaa)"
    html = msg.get_body(preferencelist=("html",)).get_content()
    assert ">Brief</h1>" in html and "CSAT 80%" in html  # the email-safe body (inline styles)
    atts = list(msg.iter_attachments())
    assert [a.get_filename() for a in atts] == ["20250101T000000Z-aaaa.zip"]
    names = zipfile.ZipFile(io.BytesIO(atts[0].get_content())).namelist()
    assert "20250101T000000Z-aaaa/07_brief.html" in names and "20250101T000000Z-aaaa/manifest.json" in names


def test_send_failure_is_a_clear_error(tmp_path):
    run = make_run(tmp_path, "x")
    with pytest.raises(CxlabError, match=r"could not send via 127.0.0.1:"):
        mailer.send_run(run, to="a@b", smtp_host="127.0.0.1", port=_free_port(), timeout=2)
