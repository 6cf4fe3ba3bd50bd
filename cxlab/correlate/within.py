"""Within-agent (repeated-measures) correlation, beside the pooled and between-agent ones.

Responses handled by one agent share that agent's effect; the
repeated-measures correlation (Bakdash & Marusich 2017) removes the
between-agent differences and keeps the common within-agent association.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from ._common import check_inputs, column_names, corr, fisher_ci_dof, numeric, p_from_r
from .testlog import TestLog, log_rows, with_p_adj

__all__ = ["within_agent"]


def within_agent(
    frame: pd.DataFrame,
    *,
    cx: str,
    candidates: Sequence[str],
    subject: str = "agent_id",
    conf: float = 0.95,
    log: TestLog | None = None,
) -> pd.DataFrame:
    """Repeated-measures correlation within agents, beside the pooled and between-agent ones.

    Parameters
    ----------
    frame : DataFrame
        Contact-grain analysis frame.
    cx : str
        CX score column.
    candidates : list of str
        Numeric or bool columns.
    subject : str
        The grouping whose between-group differences are removed
        (``agent_id``; ``queue`` or ``customer_id`` work too).
    conf : float
        Confidence level.
    log : TestLog, optional
        Run-wide log (family ``"within_agent"``, statistic = ``r_rm``).

    Returns
    -------
    DataFrame
        One row per candidate:

        * ``x``, ``y``, ``subject`` (the grouping column's name).
        * ``n`` – responses used (subjects with ≥ 2 complete responses);
          ``n_subjects``.
        * ``r_rm`` – repeated-measures correlation (the common within-subject
          slope, as a correlation); ``dof`` = n − n_subjects − 1.
        * ``ci_low``, ``ci_high`` – Fisher-z CI with n' = dof + 2
          (pingouin's convention).
        * ``p_val`` – p of ``r_rm`` (t test with ``dof``).
        * ``r_pooled`` – plain Pearson r over all responses.
        * ``r_between`` – Pearson r of the subject means (NaN with < 3 subjects).
        * ``p_adj`` – Benjamini–Hochberg adjustment of ``p_val`` across the
          rows of this call.

    Notes
    -----
    With subject-centred :math:`\\tilde x_{ij} = x_{ij} - \\bar x_i` and
    :math:`\\tilde y_{ij}`, :math:`r_{rm} = \\sum \\tilde x \\tilde y /
    \\sqrt{\\sum \\tilde x^2 \\sum \\tilde y^2}`, which equals the ANCOVA
    formulation of Bakdash & Marusich (2017), :math:`\\operatorname{sign}(\\beta_w)
    \\sqrt{SS_x / (SS_x + SS_{error})}`, with
    :math:`dof = N - k - 1`; the test is :math:`t = r \\sqrt{dof / (1 - r^2)}`
    (identical to the ANCOVA F test). Computed in closed form because
    pingouin's ANCOVA route takes seconds per candidate on a year of
    responses; the tests check it equals ``pingouin.rm_corr`` (which is
    checked against R ``rmcorr``).

    A pooled correlation far from ``r_rm`` means agents differ: e.g. agents
    who handle long calls may also be the ones with low scores (between),
    while for a given agent longer calls do not score lower (within).

    References
    ----------
    .. [1] Bakdash, J. Z. & Marusich, L. R. (2017). Repeated measures
       correlation. *Front. Psychol.* 8, 456.
    .. [2] Bland, J. M. & Altman, D. G. (1995). Calculating correlation
       coefficients with repeated observations: Part 1 — correlation within
       subjects. *BMJ* 310, 446.

    Examples
    --------
    >>> import pingouin as pg
    >>> df = pg.read_dataset("rm_corr")
    >>> res = within_agent(df, cx="PacO2", candidates=["pH"], subject="Subject")
    >>> res[["x", "n_subjects", "r_rm", "dof"]].round(3)
        x  n_subjects   r_rm  dof
    0  pH           8 -0.507   38
    """
    cands = column_names(candidates, "candidates")
    check_inputs(frame, [cx, subject, *cands], what="contact frame", conf=conf)

    rows = []
    for cand in cands:
        d = pd.DataFrame({"x": numeric(frame[cand], cand), "y": numeric(frame[cx], cx),
                          "s": frame[subject]}).dropna()
        size = d.groupby("s", sort=True)["x"].transform("size")
        d = d[size >= 2]
        n, k = len(d), int(d["s"].nunique())
        dof = n - k - 1
        r_rm = r_pool = r_btw = np.nan
        if k >= 1 and dof >= 2:
            g = d.groupby("s", sort=True)
            xc = (d["x"] - g["x"].transform("mean")).to_numpy()
            yc = (d["y"] - g["y"].transform("mean")).to_numpy()
            r_rm = corr(xc, yc)
            r_pool = corr(d["x"].to_numpy(), d["y"].to_numpy())
            if k >= 3:
                means = g[["x", "y"]].mean()
                r_btw = corr(means["x"].to_numpy(), means["y"].to_numpy())
        lo, hi = fisher_ci_dof(r_rm, dof - 1, conf)
        rows.append({"x": cand, "y": cx, "subject": subject, "n": n, "n_subjects": k, "r_rm": r_rm,
                     "dof": dof, "ci_low": lo, "ci_high": hi,
                     "p_val": float(p_from_r(r_rm, dof)), "r_pooled": r_pool, "r_between": r_btw})
    out = with_p_adj(rows)
    log_rows(log, out.assign(method="rm_corr"), family="within_agent", grain="contact", statistic="r_rm")
    return out
