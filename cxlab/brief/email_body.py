"""The email-safe body of a brief: outputs of the executed notebook, inline styles, ``cid:`` images, a plain-text twin."""

from __future__ import annotations

import base64
import hashlib
import html as _html
import os
import re
import textwrap
from dataclasses import dataclass, field
from pathlib import Path

from ._run import (
    _BANNER_TAG,
    _NO_ALT,
    BRIEF,
    BRIEF_NB,
    MailError,
    _run_folder,
    _run_meta,
)

# ------------------------------------------------------------------------------------------------ body

#: Minimal inline styles (email clients drop or ignore most <style> blocks).
_STYLES = {
    "body": "margin:0;padding:0;background:#ffffff;",
    "h1": "font-size:22px;line-height:1.25;margin:0 0 12px 0;color:#111111;",
    "h2": "font-size:18px;line-height:1.3;margin:22px 0 8px 0;color:#111111;border-bottom:1px solid #dddddd;padding-bottom:4px;",
    "h3": "font-size:15px;line-height:1.3;margin:16px 0 6px 0;color:#111111;",
    "h4": "font-size:14px;margin:12px 0 4px 0;",
    "p": "margin:0 0 10px 0;",
    "ul": "margin:0 0 10px 0;padding-left:22px;",
    "ol": "margin:0 0 10px 0;padding-left:22px;",
    "li": "margin:0 0 4px 0;",
    "table": "border-collapse:collapse;margin:0 0 12px 0;font-size:13px;",
    "th": "border-bottom:2px solid #999999;padding:4px 8px;text-align:left;vertical-align:bottom;",
    "td": "border-bottom:1px solid #e5e5e5;padding:4px 8px;vertical-align:top;",
    "img": "max-width:100%;height:auto;border:0;display:block;margin:6px 0 12px 0;",
    "pre": "white-space:pre-wrap;font-family:Menlo,Consolas,monospace;font-size:12px;background:#f6f6f6;padding:8px;",
    "code": "font-family:Menlo,Consolas,monospace;font-size:12px;",
    "blockquote": "margin:0 0 10px 0;padding-left:10px;border-left:3px solid #cccccc;color:#444444;",
    "hr": "border:0;border-top:1px solid #dddddd;margin:16px 0;",
    "a": "color:#1a5fb4;",
}
#: The brief's own classes (cxlab/templates/cxlab_report.html.j2), as inline styles.
_CLASS_STYLES = {
    "cxlab-summary": "border-left:4px solid #1f4e79;background:#f3f7fb;padding:6px 12px 6px 10px;margin:6px 0 12px 0;",
    "cxlab-warning": "border-left:4px solid #c55a11;background:#fff4e5;padding:6px 12px;margin:6px 0;",
    "cxlab-verdict": "display:inline-block;padding:1px 8px;border-radius:4px;color:#ffffff;font-weight:600;"
                     "background:#6e7781;",
    "cxlab-verdict-held": "background:#2e7d32;",
    "cxlab-verdict-did-not-hold": "background:#c62828;",
    "cxlab-verdict-inconclusive": "background:#8a6d00;",
    "cxlab-small": "font-size:12px;color:#57606a;",
    "cxlab-footer": "font-size:12px;color:#57606a;margin-top:20px;border-top:1px solid #d0d7de;padding-top:6px;",
    "cxlab-caption": "margin:8px 0 4px 0;",
}
#: The class kept on the verdict badge, so the plain text can say "Verdict: …."
_VERDICT_CLASS = "cxlab-verdict"
_WRAPPER_STYLE = ("max-width:720px;margin:0 auto;padding:16px;font-family:-apple-system,'Segoe UI',Roboto,"
                  "Helvetica,Arial,sans-serif;font-size:14px;line-height:1.45;color:#222222;")
_DROP_TAGS = ("script", "style", "link", "meta", "iframe", "object", "embed", "form", "input", "button",
              "select", "textarea", "noscript", "svg", "canvas", "video", "audio", "source", "base")
_URL_ATTRS = ("href", "src", "action", "formaction", "background", "poster", "srcset", "xlink:href")


@dataclass
class EmailBody:
    """The email-safe brief: HTML (``cid:`` images), its plain-text twin and the images.

    ``images`` holds ``(content_id, subtype, data, alt)`` tuples, ``content_id``
    without angle brackets (the HTML says ``src="cid:<content_id>"``);
    ``source`` names the file the body was read from (``07_brief.ipynb``, or
    ``07_brief.html`` for a run without the executed notebook).
    """

    html: str
    text: str
    images: list[tuple[str, str, bytes, str]] = field(default_factory=list)
    source: str = ""

    @property
    def size(self) -> int:
        """Bytes of the HTML body (UTF-8)."""
        return len(self.html.encode("utf-8"))


def _join(v) -> str:
    return "".join(v) if isinstance(v, list) else str(v or "")


def _markdown(src: str) -> str:
    from nbconvert.filters.markdown_mistune import markdown2html_mistune

    return markdown2html_mistune(src)


def _notebook_fragments(nb_path: Path) -> list[str]:
    """HTML fragments of an executed notebook's markdown cells and outputs, in order (no code)."""
    import nbformat

    nb = nbformat.read(str(nb_path), as_version=4)
    frags: list[str] = []
    heading = ""
    for cell in nb.cells:
        tags = set(cell.get("metadata", {}).get("tags", []) or [])
        if _BANNER_TAG in tags or tags & {"remove_cell", "remove-cell"}:
            continue
        if cell.cell_type == "markdown":
            src = _join(cell.source)
            found = re.findall(r"^#{1,3}\s+(.+)$", src, flags=re.MULTILINE)
            heading = found[-1].strip() if found else heading
            frags.append(_markdown(src))
            continue
        if cell.cell_type != "code" or tags & {"remove_output", "remove-output"}:
            continue
        for out in cell.get("outputs", []):
            kind = out.get("output_type")
            if kind in ("display_data", "execute_result"):
                data = out.get("data", {})
                meta = out.get("metadata", {}) or {}
                if "text/html" in data:
                    frags.append(_join(data["text/html"]))
                elif "text/markdown" in data:
                    frags.append(_markdown(_join(data["text/markdown"])))
                elif "image/png" in data or "image/jpeg" in data:
                    sub = "png" if "image/png" in data else "jpeg"
                    b64 = _join(data[f"image/{sub}"]).replace("\n", "")
                    m = meta.get(f"image/{sub}", {}) if isinstance(meta.get(f"image/{sub}"), dict) else {}
                    alt = (meta.get("alt") or m.get("alt") or cell.get("metadata", {}).get("alt")
                           or (f"Chart: {heading}" if heading else "Chart"))
                    width = f' width="{int(m["width"])}"' if str(m.get("width", "")).isdigit() else ""
                    frags.append(f'<img alt="{_html.escape(str(alt), quote=True)}"{width} '
                                 f'src="data:image/{sub};base64,{b64}">')
                elif "text/plain" in data and kind == "execute_result":
                    frags.append(f"<pre>{_html.escape(_join(data['text/plain']))}</pre>")
            elif kind == "stream" and out.get("name") == "stdout":
                text = _join(out.get("text"))
                if text.strip():
                    frags.append(f"<pre>{_html.escape(text.rstrip())}</pre>")
            elif kind == "error":
                frags.append(f"<p><b>This step failed:</b> {_html.escape(str(out.get('ename', '')))}: "
                             f"{_html.escape(str(out.get('evalue', '')))}</p>")
    return frags


def _html_fragments(html_path: Path) -> list[str]:
    """The body of a rendered report (fallback when the executed notebook is absent)."""
    from bs4 import BeautifulSoup

    soup = BeautifulSoup(html_path.read_text(encoding="utf-8"), "html.parser")
    body = soup.body or soup
    return [body.decode_contents()]


def _image_part(src: str, alt: str, images: dict) -> str | None:
    """Register a ``data:image/...;base64`` URI as an inline part; return its content id (None if unusable)."""
    m = re.fullmatch(r"data:image/(png|jpe?g|gif);base64,([A-Za-z0-9+/=\s]+)", src.strip(), flags=re.IGNORECASE)
    if not m:
        return None
    try:
        data = base64.b64decode(re.sub(r"\s+", "", m.group(2)), validate=True)
    except ValueError:
        return None
    sub = m.group(1).lower().replace("jpg", "jpeg")
    digest = hashlib.sha256(data).hexdigest()[:20]
    cid = f"img-{digest}@cxlab"
    images.setdefault(cid, (cid, sub, data, alt))
    return cid


def _clean_html(fragments: list[str], title: str) -> tuple[str, list]:
    """Assemble fragments into an email-safe HTML document; return it and its images."""
    from bs4 import BeautifulSoup

    soup = BeautifulSoup("".join(fragments), "html.parser")
    for tag in soup.select("a.anchor-link"):  # nbconvert's heading permalinks ("¶")
        tag.decompose()
    for tag in soup.find_all(_DROP_TAGS):
        if tag.name == "svg" and tag.get("aria-label"):
            tag.replace_with(soup.new_string(f"[{tag['aria-label']}]"))
        else:
            tag.decompose()
    for tag in soup.find_all("details"):  # most clients ignore <details>: unfold it
        tag.name = "div"
        tag.attrs = {}
    for tag in soup.find_all("summary"):
        tag.name = "p"
        tag.attrs = {}
        inner = soup.new_tag("b")
        for child in list(tag.contents):
            inner.append(child.extract())
        tag.append(inner)
    verdicts = []
    for tag in soup.find_all(class_=True):  # the brief's classes become inline styles (their CSS is gone)
        classes = tag.get("class") or []
        style = "".join(_CLASS_STYLES.get(c, "") for c in classes)
        if style:
            tag["style"] = style + tag.get("style", "")
        if _VERDICT_CLASS in classes:
            verdicts.append(tag)
    images: dict[str, tuple] = {}
    for img in soup.find_all("img"):
        alt = (img.get("alt") or "").strip()
        if not alt or alt == _NO_ALT:
            alt = "Chart"
        src = img.get("src", "")
        cid = _image_part(src, alt, images) if src.startswith("data:") else None
        if cid is None:  # remote (tracking, blocked) or unusable: keep the description only
            em = soup.new_tag("p")
            em.string = f"[{alt}]"
            img.replace_with(em)
            continue
        width = img.get("width")
        img.attrs = {"src": f"cid:{cid}", "alt": alt}
        if width and str(width).isdigit():
            img["width"] = str(min(int(width), 680))
    for tag in soup.find_all(True):
        for attr in list(tag.attrs):
            value = tag.attrs[attr]
            text = " ".join(value) if isinstance(value, list) else str(value)
            low = text.strip().lower()
            if (attr.startswith("on") or attr in ("class", "id", "tabindex", "data-mime-type")
                    or attr.startswith("data-") or attr.startswith("aria-") and attr != "aria-label"):
                del tag.attrs[attr]
            elif attr in _URL_ATTRS and not (low.startswith(("http://", "https://", "mailto:", "#"))
                                             or (attr == "src" and low.startswith("cid:"))):
                del tag.attrs[attr]
            elif attr == "style" and ("url(" in low or "expression(" in low or "data:" in low):
                del tag.attrs[attr]
    for tag in verdicts:  # the one class kept: the plain text names the badge "Verdict: …"
        tag["class"] = _VERDICT_CLASS
    for tag in soup.find_all(list(_STYLES)):
        own = tag.get("style", "")
        tag["style"] = _STYLES[tag.name] + (own if own.endswith(";") or not own else own + ";")
    for tag in soup.find_all(["th", "td"]):  # a right-aligned number column keeps its alignment
        style = tag["style"]
        if "text-align:right" in style.replace(" ", ""):
            tag["style"] = style.replace("text-align:left;", "")
    body = soup.decode(formatter="minimal")
    doc = (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{_html.escape(title)}</title></head>"
        f'<body style="{_STYLES["body"]}"><div style="{_WRAPPER_STYLE}">\n{body}\n</div></body></html>\n'
    )
    return doc, list(images.values())


_BLOCKS = {"p", "div", "section", "article", "header", "footer", "main", "blockquote", "figure", "figcaption",
           "h1", "h2", "h3", "h4", "h5", "h6", "ul", "ol", "table", "pre", "hr", "img", "center", "dl"}


def _inline_text(node) -> str:
    from bs4 import NavigableString, Tag

    parts = []
    for child in node.children if isinstance(node, Tag) else [node]:
        if isinstance(child, NavigableString):
            parts.append(str(child))
        elif isinstance(child, Tag):
            if child.name == "br":
                parts.append("\n")
            elif child.name == "img":
                parts.append(f"[{child.get('alt') or 'image'}]")
            else:
                parts.append(_inline_piece(child))
    return "".join(parts)


def _inline_piece(tag) -> str:
    text = _inline_text(tag)
    if _VERDICT_CLASS in (tag.get("class") or []):  # a coloured badge in HTML; words in plain text
        text = text.strip()
        return f"Verdict: {text}{'' if text.endswith(('.', '!', '?', ':')) else '.'}"
    return text


def _squash(text: str) -> str:
    return "\n".join(re.sub(r"[ \t\r\f\v]+", " ", line).strip() for line in text.split("\n")).strip()


def _table_text(table) -> list[str]:
    rows = []
    for tr in table.find_all("tr"):
        cells = [_squash(_inline_text(c)).replace("\n", " ") for c in tr.find_all(["th", "td"])]
        if cells:
            rows.append(cells)
    if not rows:
        return []
    ncol = max(len(r) for r in rows)
    rows = [r + [""] * (ncol - len(r)) for r in rows]
    widths = [min(max(len(r[i]) for r in rows), 40) for i in range(ncol)]
    out = []
    for j, r in enumerate(rows):
        out.append("  ".join(c.ljust(w) if len(c) <= w else c for c, w in zip(r, widths)).rstrip())
        if j == 0 and table.find("th"):
            out.append("  ".join("-" * w for w in widths))
    return out


def html_to_text(html: str, *, width: int = 78) -> str:
    """Convert the email's HTML to readable plain text (headings, paragraphs, lists, tables, image alt text).

    Examples
    --------
    >>> print(html_to_text("<h2>1. Our CX</h2><p>CSAT is <b>76.9%</b> (75.1–78.6).</p>"
    ...                    "<ul><li>held</li></ul><table><tr><th>KPI</th><th>value</th></tr>"
    ...                    "<tr><td>AHT</td><td>9:15</td></tr></table>"))
    1. Our CX
    ---------
    CSAT is 76.9% (75.1–78.6).
    <BLANKLINE>
    - held
    <BLANKLINE>
    KPI  value
    ---  -----
    AHT  9:15
    """
    from bs4 import BeautifulSoup, NavigableString, Tag

    soup = BeautifulSoup(html, "html.parser")
    root = soup.body or soup
    blocks: list[str] = []
    inline: list[str] = []

    def flush():
        text = _squash("".join(inline))
        inline.clear()
        if text:
            blocks.append("\n".join(textwrap.fill(line, width) if line else "" for line in text.split("\n")))

    def walk(node):
        for child in node.children:
            if isinstance(child, NavigableString):
                if child.__class__.__name__ in ("Comment", "Doctype", "Declaration", "ProcessingInstruction"):
                    continue
                inline.append(str(child))
                continue
            if not isinstance(child, Tag) or child.name in ("head", "title", "style", "script"):
                continue
            name = child.name
            if name not in _BLOCKS:
                if name == "br":
                    inline.append("\n")
                elif name == "img":
                    inline.append(f"[{child.get('alt') or 'image'}]")
                else:
                    inline.append(_inline_piece(child))
                continue
            flush()
            if name in ("h1", "h2", "h3", "h4", "h5", "h6"):
                t = _squash(_inline_text(child)).replace("\n", " ")
                if t:
                    under = {"h1": "=", "h2": "-"}.get(name)
                    blocks.append(f"{t}\n{under * len(t)}" if under else t)
            elif name in ("ul", "ol"):
                lines = []
                for i, li in enumerate(child.find_all("li", recursive=False), 1):
                    mark = f"{i}." if name == "ol" else "-"
                    t = _squash(_inline_text(li)).replace("\n", " ")
                    lines.append(textwrap.fill(t, width, initial_indent=f"{mark} ",
                                               subsequent_indent=" " * (len(mark) + 1)))
                if lines:
                    blocks.append("\n".join(lines))
            elif name == "table":
                lines = _table_text(child)
                if lines:
                    blocks.append("\n".join(lines))
            elif name == "pre":
                blocks.append(child.get_text().rstrip())
            elif name == "hr":
                blocks.append("-" * 20)
            elif name == "img":
                blocks.append(f"[{child.get('alt') or 'image'}]")
            else:
                walk(child)
                flush()

    walk(root)
    flush()
    return "\n\n".join(b for b in blocks if b.strip()) + "\n"


def email_body(run_dir: str | os.PathLike, *, title: str | None = None) -> EmailBody:
    """Build the email-safe body of a run's brief.

    Reads the executed ``07_brief.ipynb`` of the run (its outputs; never its
    code); a run without it falls back to the rendered ``07_brief.html``.

    Parameters
    ----------
    run_dir : path-like
        A run folder (or ``reports/<name>``, meaning its ``latest``).
    title : str, optional
        The HTML ``<title>`` (default: the run's title).

    Returns
    -------
    EmailBody
        ``html`` with every image as ``cid:`` (no ``data:`` URI), inline
        styles only and no ``<details>``; ``text``, the same content as plain
        text; ``images`` for the ``multipart/related`` parts.

    Raises
    ------
    MailError
        The run has neither ``07_brief.ipynb`` nor ``07_brief.html``.
    """
    root = _run_folder(run_dir)
    nb_path, html_path = root / BRIEF_NB, root / BRIEF
    if nb_path.is_file():
        frags, source = _notebook_fragments(nb_path), BRIEF_NB
    elif html_path.is_file():
        frags, source = _html_fragments(html_path), BRIEF
    else:
        raise MailError(f"{root} has no {BRIEF_NB} or {BRIEF}; run the workbench (cxlab run / cxlab demo) first")
    title = title or _run_meta(root)["title"]
    doc, images = _clean_html(frags, title)
    return EmailBody(html=doc, text=html_to_text(doc), images=images, source=source)


