"""The email message of a run's brief, parsed back with Python's ``email`` package.

Issue 18 (email-safe): images are inline CID parts referenced by the HTML, no
``data:`` URI anywhere, body under 100 KB, no ``<details>``, no code, a
plain-text part carrying the headline number, the verdict in the subject and
the brief's PDF attached when the run has one.
"""

from __future__ import annotations

import base64
import email
import io
import json
import re
from email import policy

import matplotlib.pyplot as plt
import nbformat
import pytest
from click.testing import CliRunner

from cxlab.brief import attachments, mailer
from cxlab.cli import main

HEADLINE = "76.9"  # the number the brief's first sentence states (constructed below)
LAB_CSS = "/* JupyterLab */ .jp-Cell { display: block } " * 6000  # ~240 KB, as nbconvert's lab template adds
MINIMAL_PDF = b"%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj\n2 0 obj<</Type/Pages/Kids[]/Count 0>>endobj\ntrailer<</Root 1 0 R>>\n%%EOF\n"


def _png(seed: int = 0) -> bytes:
    fig, ax = plt.subplots(figsize=(4, 2.5), dpi=100)
    ax.plot([1, 2, 3, 4], [76.1 + seed, 76.5, 77.0, 76.9])
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    plt.close(fig)
    return buf.getvalue()


def brief_notebook(*, pilot_label: str = "held") -> nbformat.NotebookNode:
    """A small executed 07_brief notebook with every kind of output the real one produces."""
    nb = nbformat.v4.new_notebook()
    png_html = base64.b64encode(_png(0)).decode()
    png_std = base64.b64encode(_png(1)).decode()
    code = nbformat.v4.new_code_cell
    md = nbformat.v4.new_markdown_cell

    def display(data, **meta):
        return nbformat.v4.new_output("display_data", data=data, metadata=meta)

    nb.cells = [
        md("# The brief — what moves our CX, and did changing it work?"),
        code('config_path = ""\nrun_dir = ""', metadata={"tags": ["parameters"]}),
        code("import secret_module  # CODE-MUST-NOT-LEAK", outputs=[]),
        code("nb.say(summary)", outputs=[display({
            "text/markdown": f"- **CSAT top-2-box is {HEADLINE}%** (95% CI 75.1–78.6), up 1.2 points on the "
                             "quarter.\n- Raising first-contact resolution by 5 points would lift CSAT by "
                             "1.9 points, keep about 410 customers a year and about $4.4M of revenue.",
            "text/plain": "<IPython.core.display.Markdown object>"})]),
        md("## 1. Our CX metric"),
        code("nb.figure(fig, alt=...)", outputs=[display({
            "text/html": '<img class="cxlab-figure" alt="Weekly CSAT top-2-box, 75 to 78 percent, flat" '
                         f'width="680" style="max-width:100%;height:auto" src="data:image/png;base64,{png_html}">',
            "text/plain": "<IPython.core.display.HTML object>"})]),
        code("plots.cx_trend(weekly)", outputs=[display({"image/png": png_std,
                                                         "text/plain": "<Figure size 400x250 with 1 Axes>"})]),
        md("## 2. The levers that matter most"),
        code("ctx.show(drivers)", outputs=[display({
            "text/html": "<style>" + LAB_CSS + "</style><p class='cxlab-caption'><b>Key drivers</b></p>"
                         '<table class="cxlab-table"><thead><tr><th style="text-align:left">lever</th>'
                         '<th style="text-align:right">share</th></tr></thead><tbody><tr>'
                         '<td style="text-align:left">first-contact resolution</td>'
                         '<td style="text-align:right">61%</td></tr></tbody></table>',
            "text/plain": "table"})]),
        code("nb.say(verdict)", outputs=[display({
            "text/markdown": f"**Verdict: {pilot_label}.** The pilot lifted CSAT by +2.1 points (95% CI +0.4 to "
                             "+3.8), consistent with the predicted +1.9 points (step 5).",
            "text/plain": "md"})]),
        code("verdict_html(v)", outputs=[display({
            "text/html": f'<p><span class="cxlab-verdict cxlab-verdict-{pilot_label.replace(" ", "-")}">'
                         f"{pilot_label}</span> The effect excludes zero.</p>", "text/plain": "html"})]),
        code("show_definitions()", outputs=[display({
            "text/html": "<details><summary>Definitions used</summary><p>FCR: no repeat contact in 7 days."
                         "</p></details>", "text/plain": "html"})]),
        code("print('note')", outputs=[nbformat.v4.new_output("stream", name="stdout", text="Data through 2025-12-31\n"),
                                       nbformat.v4.new_output("stream", name="stderr", text="DeprecationWarning: x\n")]),
        code("_ = ctx.record('brief', {})", outputs=[]),
    ]
    return nb


def make_brief_run(root, *, pdf: bool = True, verdict: str | None = "held", name="20251203T080000Z-abcd"):
    """A run folder as the pipeline writes it, with an executed brief notebook (no kernel needed)."""
    run = root / "pilot" / name
    (run / "results").mkdir(parents=True)
    (run / "manifest.json").write_text(json.dumps(
        {"schema": 1, "run": {"name": "pilot", "title": "CX brief", "status": "ok"}}))
    if verdict:
        (run / "results" / "06_validate.json").write_text(json.dumps(
            {"verdict": {"label": verdict, "reason": "constructed"}}))
    nbformat.write(brief_notebook(pilot_label=verdict or "not read out"), str(run / mailer.BRIEF_NB))
    (run / mailer.BRIEF).write_text("<html><head><style>" + LAB_CSS + "</style></head><body><h1>Brief</h1>"
                                    "</body></html>")
    (run / "01_cx_metric.html").write_text("<html><body>step 1</body></html>")
    if pdf:
        (run / mailer.BRIEF_PDF).write_bytes(MINIMAL_PDF)
    return run


def _parts(msg):
    return {p.get_content_type(): p for p in msg.walk()}


def test_message_is_email_safe(tmp_path):
    run = make_brief_run(tmp_path)
    notes = []
    raw = bytes(mailer.build_message(run, to="cco@example.com", notes=notes))
    msg = email.message_from_bytes(raw, policy=policy.default)

    # structure: mixed[ alternative[ plain, related[ html, png, png ] ], pdf ]
    types = [p.get_content_type() for p in msg.walk()]
    assert types == ["multipart/mixed", "multipart/alternative", "text/plain", "multipart/related",
                     "text/html", "image/png", "image/png", "application/pdf"], types
    assert msg["Subject"] == "CX brief — pilot: held · pilot (20251203T080000Z-abcd)"

    html = msg.get_body(preferencelist=("html",)).get_content()
    # every image is a CID part the HTML references, and every reference has its part
    cids = {p["Content-ID"].strip("<>") for p in msg.walk() if p.get_content_maintype() == "image"}
    refs = set(re.findall(r'src="cid:([^"]+)"', html))
    assert len(cids) == 2 and refs == cids
    for p in msg.walk():
        if p.get_content_maintype() == "image":
            assert p.get_content().startswith(b"\x89PNG") and p.get_content_disposition() == "inline"
    # alt text of both image kinds kept / derived (never nbconvert's placeholder)
    assert 'alt="Weekly CSAT top-2-box, 75 to 78 percent, flat"' in html
    assert 'alt="Chart: 1. Our CX metric"' in html
    assert "No description has been provided" not in html

    # no data: URI anywhere in the message (decoded parts included), no <details>, no code, no lab CSS
    assert b"data:" not in raw
    for p in msg.walk():
        if not p.is_multipart() and p.get_content_maintype() == "text":
            assert "data:" not in p.get_content()
    assert "<details" not in html and "<summary" not in html and "Definitions used" in html
    assert "CODE-MUST-NOT-LEAK" not in html and "secret_module" not in html and "ctx.show" not in html
    assert "<style" not in html and "jp-Cell" not in html and "cxlab-table" not in html
    assert re.findall(r'class="([^"]*)"', html) == ["cxlab-verdict"]  # the only class kept (for the text part)
    assert 'style="display:inline-block;padding:1px 8px;border-radius:4px;color:#ffffff;font-weight:600;' \
           'background:#6e7781;background:#2e7d32;' in html  # the verdict badge, green for held
    assert "DeprecationWarning" not in html  # stderr noise stays out
    assert 'style="border-collapse:collapse' in html  # inline CSS instead

    # body under 100 KB (Gmail clips over ~102 KB); the lab CSS alone is ~240 KB
    assert len(LAB_CSS) > 200_000
    assert len(html.encode("utf-8")) < mailer.BODY_LIMIT == 100_000
    assert not [n for n in notes if "over the" in n]

    # the plain-text part carries the brief's text and its numbers
    text = msg.get_body(preferencelist=("plain",)).get_content()
    assert f"CSAT top-2-box is {HEADLINE}%" in text
    assert "$4.4M" in text and "410 customers" in text and "+2.1 points" in text
    assert "first-contact resolution" in text and "61%" in text  # the table, as text
    assert "[Weekly CSAT top-2-box, 75 to 78 percent, flat]" in text
    assert "Verdict: held." in text and "Definitions used" in text
    assert "Verdict: held. The effect excludes zero." in text  # the badge, in words
    assert "<" not in text.replace("<IPython", "")  # no markup

    # the PDF of the brief, byte for byte; the run zip is not attached unless asked
    atts = list(msg.iter_attachments())
    assert [a.get_filename() for a in atts] == ["07_brief.pdf"]
    assert atts[0].get_content() == MINIMAL_PDF


def test_subject_without_verdict_and_failed_run(tmp_path):
    run = make_brief_run(tmp_path, verdict=None)
    assert mailer.build_message(run, to="a@b", pdf=False)["Subject"] == "CX brief — pilot (20251203T080000Z-abcd)"
    m = json.loads((run / "manifest.json").read_text())
    m["run"]["status"] = "failed"
    (run / "manifest.json").write_text(json.dumps(m))
    assert mailer.build_message(run, to="a@b", pdf=False)["Subject"].endswith("[FAILED RUN]")


def test_computed_subject_is_one_line_and_names_every_verdict(tmp_path):
    run = make_brief_run(tmp_path, verdict="inconclusive — too small to tell")
    m = json.loads((run / "manifest.json").read_text())
    m["run"]["title"] = "CX brief\nBcc: someone@example.com"  # a title is data: made one line, not refused
    (run / "manifest.json").write_text(json.dumps(m))
    msg = mailer.build_message(run, to="a@b", pdf=False)
    assert msg["Subject"] == ("CX brief Bcc: someone@example.com — pilot: inconclusive — too small to tell · "
                              "pilot (20251203T080000Z-abcd)")
    headers = bytes(msg).split(b"\n\n", 1)[0]
    assert msg["Bcc"] is None and b"\nBcc:" not in headers


def test_attachments_on_request(tmp_path):
    run = make_brief_run(tmp_path)
    msg = mailer.build_message(run, to="a@b", attach_html=True, attach_run=True)
    names = [a.get_filename() for a in msg.iter_attachments()]
    assert names == ["07_brief.pdf", "01_cx_metric.html", "07_brief.html", "20251203T080000Z-abcd.zip"]


def test_no_chromium_sends_without_pdf_and_says_so(tmp_path, monkeypatch):
    run = make_brief_run(tmp_path, pdf=False)
    monkeypatch.setattr(attachments.shutil, "which", lambda name: None)
    monkeypatch.setattr(attachments, "_print_pdf", attachments._print_pdf)  # keep the real printer
    import sys

    monkeypatch.setitem(sys.modules, "cxlab.brief.pdf", None)  # force the fallback printer (import fails)
    notes = []
    msg = mailer.build_message(run, to="a@b", notes=notes)
    assert list(msg.iter_attachments()) == []
    assert any(n.startswith("sending without the PDF: headless Chromium not found") for n in notes), notes
    assert not (run / mailer.BRIEF_PDF).exists()  # nothing written into the run folder


def test_pdf_printed_when_absent(tmp_path, monkeypatch):
    run = make_brief_run(tmp_path, pdf=False)
    calls = []

    def fake_print(html_path, pdf_path):
        calls.append(html_path.name)
        pdf_path.write_bytes(MINIMAL_PDF)
        return pdf_path

    monkeypatch.setattr(attachments, "_print_pdf", fake_print)
    msg = mailer.build_message(run, to="a@b")
    assert calls == ["07_brief.html"]
    assert [a.get_filename() for a in msg.iter_attachments()] == ["07_brief.pdf"]
    assert not (run / mailer.BRIEF_PDF).exists()


def test_real_chromium_prints_the_brief(tmp_path):
    if attachments._chromium() is None:
        pytest.skip("headless Chromium not installed (make chromium installs it as root)")
    run = make_brief_run(tmp_path, pdf=False)
    notes = []
    msg = mailer.build_message(run, to="a@b", notes=notes)
    (att,) = list(msg.iter_attachments())
    assert att.get_filename() == "07_brief.pdf" and att.get_content().startswith(b"%PDF"), notes


def test_html_only_run_still_mails(tmp_path):
    """An older run without the executed notebook: the rendered HTML is cleaned the same way."""
    run = make_brief_run(tmp_path)
    (run / mailer.BRIEF_NB).unlink()
    png = base64.b64encode(_png()).decode()
    (run / mailer.BRIEF).write_text(
        f"<html><head><style>{LAB_CSS}</style><script>alert(1)</script></head><body><h1>Brief</h1>"
        f'<details><summary>Definitions</summary>FCR</details><img src="data:image/png;base64,{png}">'
        '<img src="https://tracker.example/p.gif" alt="pixel"><p onclick="x()">CSAT 80%</p></body></html>')
    msg = mailer.build_message(run, to="a@b", pdf=False)
    html = msg.get_body(preferencelist=("html",)).get_content()
    assert "data:" not in html and "<script" not in html and "onclick" not in html and "<details" not in html
    assert "tracker.example" not in html and "[pixel]" in html and 'alt="Chart"' in html
    assert len(html.encode()) < mailer.BODY_LIMIT
    assert "CSAT 80%" in msg.get_body(preferencelist=("plain",)).get_content()


@pytest.mark.parametrize("kwargs, match", [
    ({"to": "a@b\nBcc: victim@example.com"}, "--to contains a line break"),
    ({"to": "not-an-address"}, "--to: 'not-an-address' is not an email address"),
    ({"to": "a@b", "subject": "hi\r\nX-Injected: 1"}, "--subject contains a line break"),
    ({"to": "a@b", "sender": "me@x\nBcc: y@z"}, "--sender contains a line break"),
    ({"to": "a@b", "sender": "me at example"}, "--sender: 'me at example' is not an email address"),
    ({"to": []}, "no recipients"),
])
def test_header_values_are_validated(tmp_path, kwargs, match):
    run = make_brief_run(tmp_path)
    with pytest.raises(mailer.MailError, match=match):
        mailer.build_message(run, pdf=False, **kwargs)


def test_recipients_split_and_named():
    assert mailer._recipients(["a@example.com, Chief CX <cco@example.com>"]) == [
        "a@example.com", "Chief CX <cco@example.com>"]


def test_cli_header_error_is_one_line(tmp_path):
    run = make_brief_run(tmp_path)
    res = CliRunner().invoke(main, ["email", str(run), "--to", "a@b\nBcc: x@y", "--dry-run"])
    assert res.exit_code == 2
    assert res.output.strip().count("\n") == 0 and res.output.startswith("error: --to contains a line break")
    assert "Traceback" not in res.output


def test_cli_dry_run_prints_notes(tmp_path, monkeypatch):
    run = make_brief_run(tmp_path, pdf=False)
    monkeypatch.setattr(attachments, "_print_pdf", lambda h, p: (_ for _ in ()).throw(mailer.MailError("no printer")))
    out = tmp_path / "x.eml"
    res = CliRunner().invoke(main, ["email", str(run), "--to", "a@b", "--dry-run", "--out", str(out)])
    assert res.exit_code == 0, res.output
    assert f"wrote {out}" in res.output and "note: sending without the PDF: no printer" in res.output
    msg = email.message_from_bytes(out.read_bytes(), policy=policy.default)
    assert msg["Subject"].startswith("CX brief — pilot: held")


# ------------------------------------------------------------------ privacy: a real run with quarantined rows

SECRET_ID = "CUST-SECRET-4242"
SECRET_COMMENT = "My name is Jane Doe, call me on 555-0100"
CONFIG_SECRETS = ("sk-LIVE-9f8e7d6c5b4a3F2E1D0C", "Hunter2-Xq-pw")

PARAMS = '''config_path: str = ""  # run config YAML
run_dir: str = ""  # run folder
cx_metric: str = "csat"  # csat | nps | ces
window_start: str = "2025-01-01"  # first day
window_end: str = "2025-12-31"  # last day
grain: str = "day"  # day | week
seed: int = 20251  # seed
'''


def _step_notebook(title, cells, depends_on=None):
    params = nbformat.v4.new_code_cell(PARAMS)
    params.metadata["tags"] = ["parameters"]
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell(f"# {title}"), params,
                                         *[nbformat.v4.new_code_cell(c) for c in cells]])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb.metadata["language_info"] = {"name": "python"}
    if depends_on:
        nb.metadata["cxlab"] = {"depends_on": depends_on}
    for i, cell in enumerate(nb.cells):
        cell["id"] = f"cell-{i}"
    return nb


@pytest.fixture(scope="module")
def real_run(tmp_path_factory):
    """A real run (cxlab.pipeline.run: real loading, quarantine, rendering) of one small step on a 7-day sample.

    The surveys export gets one bad row (unparseable CSAT) carrying a customer id and a comment; an
    events source is a read-only DuckDB query whose SQL comment holds two secrets.
    """
    import duckdb
    import pandas as pd

    from cxlab import pipeline as cxrun
    from cxlab.sample import main_sample

    d = tmp_path_factory.mktemp("privacy")
    center = d / "center"
    main_sample(str(center), 7, 40, 11, "csv")
    surveys = pd.read_csv(center / "surveys.csv", dtype=str, keep_default_na=False)
    bad = surveys.iloc[[0]].copy()
    bad[["response_id", "customer_id", "comment", "csat"]] = ["R-BAD-1", SECRET_ID, SECRET_COMMENT, "eleven"]
    pd.concat([surveys, bad]).to_csv(center / "surveys.csv", index=False)
    con = duckdb.connect(str(center / "ev.duckdb"))
    con.execute(f"CREATE TABLE ev AS SELECT * FROM read_csv('{center / 'events.csv'}')")
    con.close()
    cfg = d / "run.yaml"
    cfg.write_text(
        "name: pilot\ntitle: CX brief\ntimezone: America/New_York\n"
        "window: {start: 2025-01-01, end: 2025-01-07}\n"
        "sources:\n"
        f"  interactions: {{path: {center / 'interactions.csv'}}}\n"
        f"  surveys: {{path: {center / 'surveys.csv'}}}\n"
        f"  events:\n    path: {center / 'ev.duckdb'}\n"
        f"    query: \"SELECT * FROM ev /* api_key={CONFIG_SECRETS[0]} password={CONFIG_SECRETS[1]} */\"\n"
    )
    nbs = d / "notebooks"
    nbs.mkdir()
    setup = "from cxlab import nb\nctx = nb.setup(config_path=config_path, run_dir=run_dir, step={step!r})"
    nbformat.write(_step_notebook("The brief", [
        setup.format(step="07_brief"),
        's = ctx.table("surveys")\nvalue = 100 * (s["csat"] >= 4).mean()\n'
        'nb.say(f"**CSAT top-2-box is {value:.1f}%** from {len(s)} responses.")',
        "import matplotlib.pyplot as plt\nfig, ax = plt.subplots(figsize=(3, 2))\n"
        'ax.bar(["top-2", "other"], [value, 100 - value])\nnb.figure(fig, alt=f"CSAT top-2-box {value:.1f}%")',
        'ctx.show(s[["customer_id", "csat", "comment"]].head(5), caption="Sample of responses")',
        '_ = ctx.record("brief", {"headline": f"{value:.1f}%"})',
    ]), str(nbs / "07_brief.ipynb"))
    result = cxrun.run(config_path=cfg, notebooks_dir=nbs, reports_dir=d / "reports", quiet=True, timeout=120)
    expected = json.loads((result.run_dir / "results" / "07_brief.json").read_text())["brief"]["headline"]
    ids = set()
    for name in ("customers", "surveys", "interactions"):
        ids |= set(pd.read_csv(center / f"{name}.csv", dtype=str)["customer_id"].dropna())
    comments = {c for c in surveys["comment"] if c} | {SECRET_COMMENT}
    return result.run_dir, expected, ids | {SECRET_ID}, comments


def _all_bytes(raw: bytes) -> list[bytes]:
    """The .eml, every decoded part, and every member of every zip attachment."""
    msg = email.message_from_bytes(raw, policy=policy.default)
    blobs = [raw]
    for part in msg.walk():
        if part.is_multipart():
            continue
        data = part.get_payload(decode=True) or b""
        blobs.append(data)
        if part.get_content_type() == "application/zip":
            import zipfile

            with zipfile.ZipFile(io.BytesIO(data)) as zf:
                blobs += [zf.read(n) for n in zf.namelist()]
    return blobs


def test_nothing_private_leaves_with_the_run(real_run, tmp_path):
    run, expected, ids, comments = real_run
    assert (run / "quarantine" / "surveys.parquet").is_file()  # the bad row really was quarantined ...
    import pandas as pd

    q = pd.read_parquet(run / "quarantine" / "surveys.parquet")
    assert SECRET_ID in q.to_string() and SECRET_COMMENT in q.to_string()  # ... with its private values

    eml = tmp_path / "run.eml"
    notes = []
    mailer.send_run(run, to="cco@example.com", dry_run=True, out=eml, attach_run=True, attach_html=True,
                    pdf=False, notes=notes)
    raw = eml.read_bytes()
    msg = email.message_from_bytes(raw, policy=policy.default)
    assert expected in msg.get_body(preferencelist=("plain",)).get_content()  # the headline number
    zipped = next(a for a in msg.iter_attachments() if a.get_filename().endswith(".zip"))
    import zipfile

    names = zipfile.ZipFile(io.BytesIO(zipped.get_content())).namelist()
    assert f"{run.name}/config.yaml" in names and f"{run.name}/07_brief.html" in names
    assert not [n for n in names if "quarantine" in n or n.endswith((".parquet", ".csv", ".duckdb"))]
    assert any("left out of the zip" in n and "quarantine/surveys.parquet" in n for n in notes)

    blobs = _all_bytes(raw)
    assert len(blobs) > 10
    for blob in blobs:
        text = blob.decode("utf-8", errors="replace")
        tokens = set(re.findall(r"[A-Za-z0-9]+(?:-[A-Za-z0-9]+)*", text)) | set(re.findall(r"[A-Za-z0-9]+", text))
        leaked = ids & tokens  # whole tokens: C0004133, CUST-SECRET-4242
        assert not leaked, sorted(leaked)[:3]
        assert not [c for c in comments if c in text]
        assert not [s for s in CONFIG_SECRETS if s in text]


def test_raw_rows_leave_only_when_allowed_and_cleaned(real_run, tmp_path):
    """privacy.allow_raw_rows: quarantine files go, without customer ids and comments (not allowed)."""
    import shutil
    import zipfile

    import yaml

    run, _, ids, comments = real_run
    copy = tmp_path / "pilot" / run.name
    shutil.copytree(run, copy)
    cfg = yaml.safe_load((copy / "config.yaml").read_text())
    cfg["privacy"] = {"allow_raw_rows": True, "allow_customer_ids": False, "allow_comments": False}
    (copy / "config.yaml").write_text(yaml.safe_dump(cfg))
    zf = zipfile.ZipFile(io.BytesIO(mailer.zip_run(copy)))
    member = f"{copy.name}/quarantine/surveys.parquet"
    assert member in zf.namelist()
    import pandas as pd

    q = pd.read_parquet(io.BytesIO(zf.read(member)))
    assert list(q["response_id"]) == ["R-BAD-1"] and list(q["csat"]) == ["eleven"]
    assert "customer_id" not in q.columns and "comment" not in q.columns and "reason" in q.columns
    for name in zf.namelist():
        text = zf.read(name).decode("utf-8", errors="replace")
        assert SECRET_ID not in text and SECRET_COMMENT not in text
    cfg["privacy"] = {"allow_raw_rows": True, "allow_customer_ids": True, "allow_comments": True}
    (copy / "config.yaml").write_text(yaml.safe_dump(cfg))
    q = pd.read_parquet(io.BytesIO(zipfile.ZipFile(io.BytesIO(mailer.zip_run(copy))).read(member)))
    assert list(q["customer_id"]) == [SECRET_ID] and list(q["comment"]) == [SECRET_COMMENT]


def test_config_secrets_are_re_redacted_in_the_zip(tmp_path):
    import zipfile

    run = make_brief_run(tmp_path)
    (run / "config.yaml").write_text(
        "name: pilot\nsources:\n  calls:\n    path: postgresql://cx:Pg-S3cret-77@db.example/cc\n"
        "    query: SELECT * FROM calls -- pwd=odbc-pw-1; token='tok-abc-123'\n"
        "  agents: {path: 'mssql://u:${CX_DB_PASSWORD}@db/x'}\n"
        "api_key: AbCdEf0123456789GhIjKl9876\npassword: plain-yaml-pw\nquarantine_dir: null\n")
    (run / "manifest.json").write_text(json.dumps({"run": {"name": "pilot", "title": "CX brief", "status": "ok"},
                                                   "inputs": {"calls": "postgresql://cx:Pg-S3cret-77@db.example/cc"},
                                                   "smtp": {"password": "json-pw-9", "password_env": "${X}"}},
                                                  indent=1))
    zf = zipfile.ZipFile(io.BytesIO(mailer.zip_run(run)))
    text = zf.read(f"{run.name}/config.yaml").decode()
    for secret in ("Pg-S3cret-77", "odbc-pw-1", "tok-abc-123", "AbCdEf0123456789GhIjKl9876", "plain-yaml-pw"):
        assert secret not in text, secret
    assert "postgresql://cx:***@db.example/cc" in text and "${CX_DB_PASSWORD}" in text  # references kept
    assert "quarantine_dir: null" in text
    manifest = json.loads(zf.read(f"{run.name}/manifest.json"))  # still valid JSON
    assert manifest["run"]["name"] == "pilot" and manifest["inputs"]["calls"] == "postgresql://cx:***@db.example/cc"
    assert manifest["smtp"] == {"password": "***", "password_env": "${X}"}
