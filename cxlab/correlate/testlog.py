"""The run-wide log of hypothesis tests and its multiple-comparison (FDR) adjustment.

Every analysis of :mod:`cxlab.correlate` accepts ``log=`` and appends one
entry per test to a :class:`TestLog`, so the correction can span every test
of the run ("N hypotheses tried"), not just one call.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..errors import check_option

__all__ = ["TestLog"]

ADJUST_METHODS = ("fdr_bh", "fdr_by", "bonferroni", "holm", "none")

_LOG_COLUMNS = ("family", "x", "y", "method", "grain", "statistic", "p_val", "n")


class TestLog:
    """A run-wide log of every hypothesis test performed.

    Every analysis in :mod:`cxlab.correlate` accepts ``log=`` and appends one
    entry per test it performs, so the multiple-comparison correction can span
    the whole run rather than one call ("N hypotheses tried").

    Columns of :meth:`to_frame`:

    * ``family`` – the analysis that ran the test (``"period"``, ``"lagged"``,
      ``"partial"``, ``"contact"``, ``"contact_logit"``, ``"within_agent"``,
      ``"confounder"``).
    * ``x``, ``y`` – the candidate and the CX column (for ``"lagged"`` the
      candidate name carries the lag, e.g. ``"asa_s[t-2]"``).
    * ``method`` – the statistic (``"pearson"``, ``"spearman"``, ``"logit"``...).
    * ``grain`` – ``"period"`` or ``"contact"``.
    * ``statistic`` – the effect (a correlation, or a log-odds coefficient).
    * ``p_val`` – the p-value the analysis acts on (for period-grain tests
      the autocorrelation-aware ``p_ac``).
    * ``n`` – the number of observations.

    Examples
    --------
    >>> log = TestLog()
    >>> log.add(family="period", x="asa_s", y="cx_value", method="pearson",
    ...         grain="period", statistic=-0.4, p_val=0.001, n=120)
    >>> log.add(family="period", x="aht_s", y="cx_value", method="pearson",
    ...         grain="period", statistic=0.1, p_val=0.04, n=120)
    >>> len(log)
    2
    >>> log.adjust()[["x", "p_val", "p_adj"]]
           x  p_val  p_adj
    0  asa_s  0.001  0.002
    1  aht_s  0.040  0.040
    """

    __test__ = False  # not a pytest test class

    def __init__(self) -> None:
        self._rows: list[dict] = []

    def __len__(self) -> int:
        return len(self._rows)

    def __repr__(self) -> str:
        fams = sorted({r["family"] for r in self._rows})
        return f"TestLog({len(self)} tests; families={fams})"

    def add(self, *, family: str, x: str, y: str, method: str, grain: str,
            statistic: float, p_val: float, n: int) -> None:
        """Append one test."""
        self._rows.append(
            {"family": str(family), "x": str(x), "y": str(y), "method": str(method),
             "grain": str(grain), "statistic": float(statistic), "p_val": float(p_val),
             "n": int(n)}
        )

    def to_frame(self) -> pd.DataFrame:
        """All logged tests, in the order they were run (columns: see class doc)."""
        df = pd.DataFrame(self._rows, columns=list(_LOG_COLUMNS))
        return df.astype({"statistic": float, "p_val": float, "n": "int64"})

    def adjust(self, method: str = "fdr_bh", *, by: str | None = None, alpha: float = 0.05) -> pd.DataFrame:
        """The log with p-values adjusted for every test of the run.

        Parameters
        ----------
        method : {"fdr_bh", "fdr_by", "bonferroni", "holm", "none"}
            Correction (statsmodels ``multipletests`` names). ``"fdr_bh"`` is
            Benjamini–Hochberg.
        by : {None, "family"}
            ``None`` corrects across every test of the run; ``"family"``
            corrects within each family separately.
        alpha : float
            Level for the ``reject`` column.

        Returns
        -------
        DataFrame
            :meth:`to_frame` plus ``p_adj`` (adjusted p-value; NaN when the
            test had no p-value) and ``reject`` (``p_adj < alpha``).
        """
        check_option("method", method, ADJUST_METHODS)
        check_option("by", by, (None, "family"))
        df = self.to_frame()
        if by is None:
            df["p_adj"] = adjust_pvalues(df["p_val"].to_numpy(), method)
        else:
            df["p_adj"] = np.nan
            for _, idx in df.groupby("family", sort=True).groups.items():
                df.loc[idx, "p_adj"] = adjust_pvalues(df.loc[idx, "p_val"].to_numpy(), method)
        df["reject"] = df["p_adj"] < alpha
        return df


def adjust_pvalues(p, method: str = "fdr_bh") -> np.ndarray:
    """Adjust p-values, ignoring NaNs (they stay NaN and do not count as tests).

    ``method`` is a statsmodels ``multipletests`` name (``"fdr_bh"``:
    Benjamini & Hochberg 1995, :math:`p_{(i)} m / i` made monotone) or
    ``"none"``.

    Examples
    --------
    >>> adjust_pvalues([0.01, float("nan"), 0.04]).round(3).tolist()
    [0.02, nan, 0.04]
    """
    p = np.asarray(p, dtype=float)
    out = np.full(p.shape, np.nan)
    ok = np.isfinite(p)
    if not ok.any():
        return out
    if method == "none":
        out[ok] = p[ok]
        return out
    from statsmodels.stats.multitest import multipletests

    out[ok] = multipletests(p[ok], method=method)[1]
    return out


def with_p_adj(rows: list[dict]) -> pd.DataFrame:
    """Rows as a frame plus ``p_adj``: :func:`adjust_pvalues` (Benjamini–Hochberg) of ``p_val``."""
    out = pd.DataFrame(rows)
    out["p_adj"] = adjust_pvalues(out["p_val"].to_numpy())
    return out


def log_rows(log: TestLog | None, df: pd.DataFrame, *, family: str, grain: str,
             x: str = "x", y: str = "y", method: str = "method", statistic: str = "r",
             p: str = "p_val", n: str = "n") -> None:
    """Append one :class:`TestLog` entry per row of ``df`` (no-op without a log).

    ``x``, ``y``, ``statistic``, ``p``, ``n`` name the columns to log;
    ``method`` names a column, or is logged as the method itself when ``df``
    has no such column.
    """
    if log is None:
        return
    if not isinstance(log, TestLog):
        raise TypeError(f"log must be a cxlab.correlate.TestLog or None; got {type(log).__name__}")
    for row in df.itertuples(index=False):
        d = row._asdict()
        log.add(family=family, x=d[x], y=d[y], method=d[method] if method in d else method,
                grain=grain, statistic=d[statistic], p_val=d[p], n=d[n])
