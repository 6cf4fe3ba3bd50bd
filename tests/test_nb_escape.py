"""Issue 17: data interpolated into nb.say sentences never becomes live markup in a report."""

import re

import pytest
from nbconvert.filters.markdown_mistune import markdown2html_mistune

from cxlab.nb import escape_markup

NAMES = [
    "tech<img src=x onerror=alert(1)>",
    "<script>alert('q')</script>",
    "billing</p><iframe src=//evil.example>",
    "<!-- comment --><svg onload=alert(1)>",
    "[click](javascript:alert(1))",
    "[x]( data:text/html;base64,PHNjcmlwdD4=)",
]


@pytest.mark.parametrize("name", NAMES)
def test_no_live_tag_or_script_link_reaches_html(name):
    # nbconvert renders text/markdown outputs with mistune: the same path the reports take
    html = markdown2html_mistune(escape_markup(f"Queue **{name}** has SL 80% (p < 0.05)."))
    assert not re.search(r"<(img|script|iframe|svg|!--)", html, re.I)
    assert not re.search(r"href=\"\s*(javascript|data|vbscript):", html, re.I)
    assert "<strong>" in html  # intended Markdown still renders
    assert "p &lt; 0.05" in html or "p < 0.05" in html


def test_plain_sentences_are_unchanged():
    # committed notebook outputs carry no tags: escaping must leave ordinary sentences byte-identical
    s = "CSAT top-2-box is **76.9%** (95% CI 76.5 to 77.3); p < 0.001, a 2 < 3 comparison, 5 > 4."
    assert escape_markup(s) == s
