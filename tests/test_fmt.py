"""The formatting layer (cxlab.fmt): one table of inputs and the text a reader must see.

Expected values are worked by hand from the rule named beside each row
(e.g. 554.48 s = 9 min 14.48 s → "9:14"; 4,413,981 / 10⁶ = 4.41 → "$4.4M").
"""

import math

import pandas as pd
import pytest

from cxlab import fmt
from cxlab.schema import TABLES

CASES = [
    # money: compact scale shared by the interval; symbol from the ISO code (issue 18's example)
    (fmt.money, (4413981, 3784297, 5036278), {}, "$4.4M (3.8M–5.0M)"),
    (fmt.money, (4413981,), {"currency": "EUR"}, "€4.4M"),
    (fmt.money, (8355.69,), {"currency": "GBP"}, "£8,356"),  # below 10k: whole units, thousands separator
    (fmt.money, (52300, 41000, 61900), {}, "$52k (41k–62k)"),  # 52.3k -> 52k, 61.9k -> 62k
    (fmt.money, (-1.2e6,), {"currency": "CHF"}, "−CHF 1.2M"),  # unknown symbol: the code; typographic minus
    (fmt.money, (2.5e9,), {}, "$2.5B"),
    (fmt.money, (float("nan"),), {}, "—"),
    # percent: one base per quantity (0-100 for *_pct, 0-1 for flags and shares)
    (fmt.value, ("transfer_rate_pct", 9.867907), {}, "9.9%"),
    (fmt.value, ("transferred", 0.1070505), {}, "10.7%"),  # the same quantity as a 0/1 flag mean
    (fmt.pct, (0.6051,), {"base": 1, "digits": 0}, "61%"),
    (fmt.pct, (84.79258,), {}, "84.8%"),
    # durations as m:ss (h:mm:ss from one hour)
    (fmt.duration, (554.4804,), {}, "9:14"),  # 9·60 = 540, 14.48 s -> 14
    (fmt.duration, (11.17,), {}, "0:11"),
    (fmt.duration, (59.6,), {}, "1:00"),  # rounds to 60 s = 1:00, not 0:60
    (fmt.duration, (3725,), {}, "1:02:05"),  # 3600 + 125
    (fmt.value, ("aht_s", 481.415),  {}, "8:01"),
    # thousands separators
    (fmt.number, (344366,), {}, "344,366"),
    (fmt.number, (1110270,), {}, "1,110,270"),
    (fmt.value, ("offered", 93953.0), {}, "93,953"),
    (fmt.number, (-0.04, 1), {}, "0.0"),  # no "−0.0"
    # changes and lever moves: flags in percentage points, durations in seconds
    (fmt.change, ("resolved", 0.05), {}, "+5 points"),
    (fmt.change, ("hold_s", -10), {}, "−10 s"),
    (fmt.change, ("aht_s", 75), {}, "+1:15"),
    (fmt.lever_phrase, ("resolved", 0.05), {}, "raising first-contact resolution by 5 points"),
    (fmt.lever_phrase, ("transferred", -0.02), {}, "cutting transfers by 2 points"),
    # signed numbers and intervals
    (fmt.signed, (1.93,), {}, "+1.9"),
    (fmt.signed, (-0.31,), {}, "−0.3"),
    (fmt.ci, (76.457, 77.255), {}, "(76.5–77.3)"),
    (fmt.ci, (-0.307, 4.163), {}, "(−0.3 to 4.2)"),  # a negative bound: "to", not a dash
    # dates
    (fmt.date, ("2026-02-02",), {}, "2 Feb 2026"),
    (fmt.window, ("2025-01-01", "2025-12-31"), {}, "1 Jan – 31 Dec 2025"),
    (fmt.window, ("2024-07-01", "2025-06-30"), {}, "1 Jul 2024 – 30 Jun 2025"),
    # labels
    (fmt.label, ("resolved",), {}, "first-contact resolution"),
    (fmt.label, ("aht_s",), {}, "average handle time"),
    (fmt.label, ("service_level_pct",), {}, "service level"),
    (fmt.label, ("contact_reason",), {}, "contact reason"),
    (fmt.label, ("event_outage",), {}, "outage days"),
    (fmt.label, ("series_web_visits",), {}, "web visits"),
    (fmt.label, ("channel=chat",), {}, "channel: chat"),
    (fmt.label, ("sl_gap_pct",), {}, "SL gap"),
]


@pytest.mark.parametrize("func, args, kwargs, expected", CASES,
                         ids=[f"{c[0].__name__}-{c[3]}" for c in CASES])
def test_formatting_table(func, args, kwargs, expected):
    assert func(*args, **kwargs) == expected


def test_every_canonical_column_has_a_label():
    assert fmt.unlabelled_columns() == []
    for table in TABLES.values():
        for col in table.columns:
            assert fmt.label(col.name) and "_" not in fmt.label(col.name), col.name


def test_kind_decides_the_base():
    # the same share written two ways prints the same
    assert fmt.value("fcr_pct", 71.8) == fmt.value("resolved", 0.718) == "71.8%"
    assert fmt.kind_of("revenue_per_year") == "money" and fmt.kind_of("n_clusters") == "count"


def test_frame_formats_by_column_and_labels_headers():
    df = pd.DataFrame({"queue": ["billing", "sales"], "aht_s": [481.4, math.nan], "transfer_rate_pct": [9.19, 8.05],
                       "offered": [93953, 56127], "ok": [True, False]})
    out = fmt.frame(df)
    assert list(out.columns) == ["queue", "average handle time", "transfer rate", "contacts offered", "ok"]
    assert out.iloc[0].tolist() == ["billing", "8:01", "9.2%", "93,953", "yes"]
    assert out.iloc[1].tolist() == ["sales", "—", "8.1%", "56,127", "no"]
    # a column formatted as another quantity: money from 10k up is compact (93,953 -> 94k)
    assert fmt.frame(df, kinds={"offered": "revenue"}, currency="EUR")["contacts offered"].tolist() == ["€94k", "€56k"]


def test_money_follows_the_config_currency():
    from cxlab.config import RunConfig

    assert RunConfig().currency == "USD"
    assert fmt.money(4.4e6, currency=RunConfig(currency="EUR").currency) == "€4.4M"
    with pytest.raises(ValueError, match="currency"):
        RunConfig(currency="dollars")


def test_frame_by_row_formats_each_row_in_its_own_unit():
    import pandas as pd

    from cxlab import fmt

    # a what-if: the change column holds a share move (+5 points) and a seconds move (−10 s) in one column;
    # the value chain: a CX change (plain number, 3 decimals), customers (a count) and revenue (money)
    wi = pd.DataFrame({"driver": ["resolved", "hold_s", "total"], "change": [0.05, -10.0, float("nan")],
                       "effect": [1.907, 0.612, 3.747]})
    out = fmt.frame(wi, digits=3, by_row={"change": ("driver", "change")})
    assert out["change"].tolist() == ["+5 points", "−10 s", "—"]
    assert out["effect"].tolist() == ["1.907", "0.612", "3.747"]  # unchanged: one unit (CX points)
    chain = pd.DataFrame({"link": ["cx_change", "customers_retained_per_year", "revenue_retained_per_year"],
                          "estimate": [1.907, 408.507, 3413361.187], "ci_low": [1.863, 349.318, 2851085.56]})
    out = fmt.frame(chain, digits=3, currency="EUR", labels=False,
                    by_row={c: ("link", "value") for c in ("estimate", "ci_low")})
    assert out["estimate"].tolist() == ["1.907", "409", fmt.money(3413361.187, currency="EUR")]
    assert out["ci_low"].tolist() == ["1.863", "349", fmt.money(2851085.56, currency="EUR")]
    with pytest.raises(ValueError, match="by_row"):
        fmt.frame(wi, by_row={"change": ("driver", "level")})
