"""Every step report speaks the reader's language (issue 18, "one formatting layer used by the brief and every report").

The display helper :func:`cxlab.nb.show` with ``human=True`` is rendered on
frames shaped like the step tables (columns as steps 2, 4 and 5 build them);
its HTML must carry human labels and human numbers, never analyst names.
The notebooks' sources (JSON, never executed) must route every table through
it and caption them without raw column names.
"""

from __future__ import annotations

import ast
import json
import re
from html import unescape
from pathlib import Path

import pandas as pd
import pytest

from cxlab import fmt, nb

ROOT = Path(__file__).resolve().parent.parent
STEP_NOTEBOOKS = sorted((ROOT / "notebooks").glob("0[1-6]_*.ipynb"))

#: Analyst names that must never reach a reader as a header (issue 18 lists ci_low, p_val, cx_value; the
#: response-curve table had knee_low, slope_below; step 2 had *_pct and *_s).
RAW = re.compile(r"\b(ci_low|ci_high|p_val|p_adj|p_hac|p_ac|n_eff|cx_value|cx_top2|knee_low|knee_high|p_knee|"
                 r"slope_below|slope_above|linear_slope|share_ci_low|p_rank1|direct_effect|diff_vs_configured|"
                 r"\w+_pct|\w+_s)\b")


@pytest.fixture
def shown(monkeypatch):
    import IPython.display

    out = []
    monkeypatch.setattr(IPython.display, "display", lambda obj: out.append(obj.data))
    return out


def _headers(html: str) -> list[str]:
    return re.findall(r"<th(?:\s[^>]*)?>(.*?)</th>", html)


def _first_row(html: str) -> list[str]:
    cells = re.findall(r"<td[^>]*>(.*?)</td>", html.split("<tbody>")[1].split("</tr>")[0])
    return [unescape(c) for c in cells]


# typical step tables; values from the embedded sample's run (seed 20251) rounded as recorded
STEP2_HEADLINE = pd.DataFrame([{"offered": 344366.0, "handled": 308799.0, "service_level_pct": 84.79,
                                "abandon_rate_pct": 8.29, "asa_s": 11.17, "aht_s": 554.48, "fcr_pct": 74.97,
                                "transfer_rate_pct": 9.868, "hold_rate_pct": 27.5, "occupancy_pct": 48.1}])
STEP4_PERIOD = pd.DataFrame([{"x": "fcr_pct", "n_periods": 358, "r": 0.2263, "ci_low": 0.1201, "ci_high": 0.3232,
                              "p_val": 0.0000158, "p_hac": 0.00021, "n_eff": 350.882, "p_ac": 0.00002,
                              "p_adj": 0.0012}])
STEP4_CURVES = pd.DataFrame([{"kpi": "wait_s", "n": 42475, "knee": 28.1, "knee_low": 4.7, "knee_high": 271.3,
                              "p_knee": 0.4975, "knee_real": False, "slope_below": -0.00002, "slope_above": -0.0008,
                              "linear_slope": -0.0006}])
STEP5_DRIVERS = pd.DataFrame([{"driver": "resolved", "role": "lever", "importance": 0.182, "ci_low": 0.175,
                               "ci_high": 0.190, "share": 0.605, "share_ci_low": 0.589, "share_ci_high": 0.621,
                               "rank": 1, "rank_ci_low": 1, "rank_ci_high": 1, "p_rank1": 0.996,
                               "direct_effect": 17.70, "direct_ci_low": 17.10, "direct_ci_high": 18.30,
                               "mostly_from_controls": False}])


@pytest.mark.parametrize("frame, digits, expected_row", [
    # 554.48 s = 9 min 14 s; 344366 with separators; *_pct on 0-100 -> one decimal and "%"
    (STEP2_HEADLINE, 1, ["344,366", "308,799", "84.8%", "8.3%", "0:11", "9:14", "75.0%", "9.9%", "27.5%", "48.1%"]),
    # names become labels; p below 0.0005 prints "<0.001"; 350.882 effective n is a count -> "351"
    (STEP4_PERIOD, 3, ["first-contact resolution (no repeat contact)", "358", "0.226", "0.120", "0.323", "<0.001",
                       "<0.001", "351", "<0.001", "0.001"]),
    # knee 28.1 s -> 0:28, its interval 4.7 s -> 0:05 and 271.3 s -> 4:31 (the bounds print like the knee);
    # p 0.4975 is stored as 0.49749999... -> "0.497"; −0.00002 at 4 decimals is 0.0000 (never "−0")
    (STEP4_CURVES, 4, ["wait time", "42,475", "0:28", "0:05", "4:31", "0.497", "no", "0.0000", "−0.0008",
                       "−0.0006"]),
    # a share of 0.605 is 60.5%; its bounds too; ranks are whole numbers; P(rank 1) two decimals
    (STEP5_DRIVERS, 3, ["first-contact resolution", "lever", "0.182", "0.175", "0.190", "60.5%", "58.9%", "62.1%",
                        "1", "1", "1", "1.00", "17.700", "17.100", "18.300", "no"]),
], ids=["step2-headline", "step4-period", "step4-curves", "step5-drivers"])
def test_step_tables_have_human_headers_and_numbers(shown, frame, digits, expected_row):
    nb.show(frame, human=True, digits=digits)
    html = shown[-1]
    heads = _headers(html)
    raw = [h for h in heads if RAW.search(h)]
    assert not raw, f"analyst names in the headers: {raw}"
    assert len(heads) == frame.shape[1]
    assert _first_row(html) == expected_row


def test_step_table_headers_name_their_quantity(shown):
    nb.show(STEP4_CURVES, human=True, digits=4)
    assert _headers(shown[-1]) == [
        "KPI", "responses", "knee", "knee (low)", "knee (high)", "p-value (knee vs straight line)", "knee is real",
        "slope below the knee (per s)", "slope above the knee (per s)", "straight-line slope (per s)"]
    nb.show(STEP5_DRIVERS.iloc[:, :8], human=True)
    assert _headers(shown[-1]) == ["driver", "role", "importance (part of R²)", "low (95%)", "high (95%)",
                                   "share of explained variation", "share of explained variation (low)",
                                   "share of explained variation (high)"]


def test_money_follows_the_configs_currency(shown):
    nb.show(pd.DataFrame({"link": ["revenue_per_year"], "revenue_per_year": [4413981.0]}), human=True, currency="EUR")
    assert _first_row(shown[-1]) == ["revenue per year", "€4.4M"]  # 4,413,981 / 10^6 = 4.41 -> 4.4M


def _calls(src: str, name: str = "show"):
    for node in ast.walk(ast.parse(src)):
        if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == name
                and isinstance(node.func.value, ast.Name) and node.func.value.id == "ctx"):
            yield node


@pytest.mark.parametrize("path", STEP_NOTEBOOKS, ids=lambda p: p.stem)
def test_every_step_table_goes_through_the_formatting_layer(path):
    cells = [c for c in json.loads(path.read_text(encoding="utf-8"))["cells"] if c["cell_type"] == "code"]
    calls = [(c.get("id"), node) for c in cells for node in _calls("".join(c["source"]))]
    assert calls, f"{path.name} shows no table"
    for cid, node in calls:
        kw = {k.arg: k.value for k in node.keywords}
        assert "human" in kw and isinstance(kw["human"], ast.Constant) and kw["human"].value is True, \
            f"{path.name} cell {cid}: ctx.show(...) without human=True"
        cap = kw.get("caption")
        texts = [n.value for n in ast.walk(cap) if isinstance(n, ast.Constant) and isinstance(n.value, str)] \
            if cap is not None else []
        bad = [t for t in texts if RAW.search(t)]
        assert not bad, f"{path.name} cell {cid}: a caption prints raw column names: {bad}"


def test_fmt_labels_cover_the_shown_result_headers():
    for name in ("ci_low", "p_val", "p_adj", "cx_value", "cx_top2", "knee_low", "slope_below", "share_ci_low",
                 "p_rank1", "direct_effect", "diff_vs_configured", "n_eff", "p_hac"):
        assert not RAW.search(fmt.label(name)), (name, fmt.label(name))
