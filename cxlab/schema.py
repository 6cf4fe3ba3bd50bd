"""Canonical tables: the columns, types and rules every cxlab module relies on.

Every source, whatever its export looks like, is mapped onto one of these
tables by :mod:`cxlab.io`. The declarations here are data, so that the
loader, the validator, the sample generator and the documentation all read
the same definition.

Types are DuckDB logical types. Timestamps are stored as ``TIMESTAMPTZ``
(UTC instants); pandas sees them as ``datetime64[ns, UTC]``. Local calendar
days (for daily KPIs) are derived with the run's ``timezone``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

__all__ = ["Column", "Table", "TABLES", "table", "CX_SCALES", "OPTIONAL_MEASURES"]


@dataclass(frozen=True)
class Column:
    """One canonical column.

    Attributes
    ----------
    name : str
        Canonical snake_case name (units in the name where there is a unit).
    dtype : str
        DuckDB logical type: ``VARCHAR``, ``DOUBLE``, ``BIGINT``, ``BOOLEAN``,
        ``TIMESTAMPTZ`` or ``DATE``.
    required : bool
        Whether a source must provide the column.
    nullable : bool
        Whether a null value is acceptable.
    low, high : float or None
        Inclusive range for numeric columns.
    allowed : tuple of str or None
        Allowed values for categorical columns (checked case-sensitively after
        the source's value map).
    description : str
        What the column means.
    """

    name: str
    dtype: str
    required: bool = True
    nullable: bool = False
    low: float | None = None
    high: float | None = None
    allowed: tuple[str, ...] | None = None
    description: str = ""


@dataclass(frozen=True)
class Table:
    """A canonical table: its columns and primary key."""

    name: str
    columns: tuple[Column, ...]
    key: tuple[str, ...] = ()
    description: str = ""
    time_column: str | None = None
    extra_ok: bool = True
    _by_name: dict = field(default_factory=dict, compare=False, repr=False)

    def __post_init__(self):
        self._by_name.update({c.name: c for c in self.columns})

    def column(self, name: str) -> Column:
        return self._by_name[name]

    @property
    def names(self) -> list[str]:
        return [c.name for c in self.columns]

    @property
    def required(self) -> list[str]:
        return [c.name for c in self.columns if c.required]


CX_SCALES = {"csat": (1, 5), "nps": (0, 10), "ces": (1, 7)}

#: interactions columns a KPI may need that a source may lack; a KPI that needs an absent (or all-null)
#: one is *not measured* (see :func:`cxlab.kpis.not_measured`).
OPTIONAL_MEASURES = ("customer_id", "channel", "hold_s", "acw_s", "transferred", "resolved", "contact_reason",
                     "reached_queue")

_D = "DOUBLE"
_S = "VARCHAR"
_B = "BOOLEAN"
_T = "TIMESTAMPTZ"

INTERACTIONS = Table(
    "interactions",
    (
        Column("interaction_id", _S, description="unique contact id"),
        Column("customer_id", _S, required=False, nullable=True,
               description="the customer who made the contact; null = unknown (left out of repeat/FCR)"),
        Column("channel", _S, required=False, nullable=True, allowed=("voice", "chat", "email", "messaging"),
               description="voice / chat / email / messaging"),
        Column("direction", _S, required=False, allowed=("inbound", "outbound"),
               description="inbound / outbound (default inbound)"),
        Column("queue", _S, description="the queue (skill) the contact entered"),
        Column("agent_id", _S, nullable=True, description="handling agent; null when abandoned"),
        Column("arrived_at", _T, description="when the contact entered the queue"),
        Column("wait_s", _D, low=0, description="time in queue, seconds"),
        Column("talk_s", _D, low=0, description="talk / chat time, seconds (0 when abandoned)"),
        Column("hold_s", _D, required=False, nullable=True, low=0,
               description="hold time, seconds (optional: without it AHT with hold and hold rate are not measured)"),
        Column("acw_s", _D, required=False, nullable=True, low=0,
               description="after-contact work, seconds (optional: without it AHT is not measured)"),
        Column("abandoned", _B, description="customer left the queue before an agent answered"),
        Column("transferred", _B, required=False, nullable=True,
               description="the contact was transferred (optional: without it transfer rate is not measured)"),
        Column("reached_queue", _B, required=False, nullable=True,
               description="the contact reached a queue; false = ended in the IVR / self-service "
                           "(not offered, not abandoned; counted as ivr_only); null or absent = true"),
        Column("contact_reason", _S, required=False, nullable=True,
               description="why the customer contacted (observable complexity proxy)"),
        Column("resolved", _B, required=False, nullable=True,
               description="agent-declared resolution flag"),
        Column("site", _S, required=False, nullable=True, description="site of the handling agent"),
    ),
    key=("interaction_id",),
    time_column="arrived_at",
    description="one row per contact",
)

SURVEYS = Table(
    "surveys",
    (
        Column("response_id", _S, description="unique survey response id"),
        Column("interaction_id", _S, nullable=True, description="the contact surveyed (nullable link)"),
        Column("customer_id", _S, required=False, nullable=True, description="the respondent; null = unknown"),
        Column("responded_at", _T, description="when the response was given"),
        Column("csat", _D, required=False, nullable=True, low=1, high=5, description="CSAT 1-5"),
        Column("nps", _D, required=False, nullable=True, low=0, high=10, description="likelihood to recommend 0-10"),
        Column("ces", _D, required=False, nullable=True, low=1, high=7,
               description="CES 2.0, 1-7, 7 = 'made it easy' strongly agree"),
        Column("resolved_self_report", _B, required=False, nullable=True,
               description="customer says the issue was resolved"),
        Column("comment", _S, required=False, nullable=True, description="free-text comment (private)"),
    ),
    key=("response_id",),
    time_column="responded_at",
    description="one row per survey response",
)

AGENTS = Table(
    "agents",
    (
        Column("agent_id", _S),
        Column("hire_date", "DATE", description="first day on the job"),
        Column("team", _S),
        Column("site", _S, required=False, nullable=True),
    ),
    key=("agent_id",),
    description="one row per agent",
)

AGENT_SCORES = Table(
    "agent_scores",
    (
        Column("agent_id", _S),
        Column("scored_at", _T, description="when the score was given (the as-of time)"),
        Column("metric", _S, description="score name, e.g. qa"),
        Column("value", _D, description="the score"),
    ),
    key=("agent_id", "scored_at", "metric"),
    time_column="scored_at",
    description="periodic per-agent scores such as QA evaluations (long format)",
)

EVENTS = Table(
    "events",
    (
        Column("event_id", _S, required=False),
        Column("start", _T, description="start of the event window"),
        Column("end", _T, description="end of the event window (exclusive)"),
        Column("label", _S, description="short name, e.g. 'billing system outage'"),
        Column("kind", _S, required=False, nullable=True,
               description="outage / campaign / release / holiday / other"),
        Column("queue", _S, required=False, nullable=True, description="affected queue; null = all"),
    ),
    time_column="start",
    description="dated events that may influence CX",
)

STAFFING = Table(
    "staffing",
    (
        Column("interval_start", _T, description="start of the staffing interval"),
        Column("queue", _S),
        Column("interval_s", _D, low=1, description="interval length, seconds"),
        Column("agents_staffed", _D, low=0, description="average agents logged in and available"),
    ),
    key=("interval_start", "queue"),
    time_column="interval_start",
    description="staffed agents per interval and queue (for occupancy and Erlang comparisons)",
)

CUSTOMERS = Table(
    "customers",
    (
        Column("customer_id", _S),
        Column("segment", _S, required=False, nullable=True),
        Column("first_seen", _T, required=False, nullable=True),
        Column("churned_at", _T, required=False, nullable=True),
    ),
    key=("customer_id",),
    description="one row per customer, for loyalty outcomes",
)

CUSTOMER_REVENUE = Table(
    "customer_revenue",
    (
        Column("customer_id", _S),
        Column("month", "DATE", description="first day of the month"),
        Column("revenue", _D, low=0),
        Column("products_held", _D, required=False, nullable=True, low=0),
        Column("products_offered", _D, required=False, nullable=True, low=0),
    ),
    key=("customer_id", "month"),
    description="monthly revenue and products held per customer (wallet share)",
)

SERIES = Table(
    "series",
    (
        Column("date", "DATE"),
        Column("name", _S, description="series name, e.g. web_visits"),
        Column("value", _D),
        Column("segment", _S, required=False, nullable=True),
    ),
    key=("date", "name", "segment"),
    description="extra daily series in long format",
)

_FRACTION = "fraction 0-1 (percent text such as '94.01%' is parsed by the mapping)"

AGGREGATES = Table(
    "aggregates",
    (
        Column("period_start", _T,
               description="start of the period: a timestamp, or a date (read as local midnight in the "
                           "source's time zone)"),
        Column("grain", _S, required=False, nullable=True, allowed=("interval", "day", "week", "month"),
               description="interval / day / week / month (one grain per table; inferred from period_start "
                           "when absent)"),
        Column("interval_s", _D, required=False, nullable=True, low=1,
               description="period length in seconds for interval rows (default 1,800)"),
        Column("queue", _S, required=False, nullable=True, description="queue; null = all queues"),
        Column("channel", _S, required=False, nullable=True, allowed=("voice", "chat", "email", "messaging"),
               description="channel; null = all channels"),
        Column("offered", _D, low=0, description="contacts offered to the queue(s) in the period"),
        Column("answered", _D, required=False, nullable=True, low=0, description="contacts answered (handled)"),
        Column("abandoned", _D, required=False, nullable=True, low=0, description="contacts abandoned"),
        Column("short_abandoned", _D, required=False, nullable=True, low=0,
               description="abandons the source counts as short (excluded from its SL and abandon rate)"),
        Column("asa_s", _D, required=False, nullable=True, low=0,
               description="average speed of answer of answered contacts, seconds (H:MM:SS text parsed)"),
        Column("aht_s", _D, required=False, nullable=True, low=0,
               description="average handle time of answered contacts, seconds (H:MM:SS text parsed)"),
        Column("service_level", _D, required=False, nullable=True, low=0, high=1,
               description=f"service level as the source defines it, {_FRACTION}"),
        Column("abandon_rate", _D, required=False, nullable=True, low=0, high=1,
               description=f"abandon rate as the source defines it (used when 'abandoned' is absent), {_FRACTION}"),
        Column("transfer_rate", _D, required=False, nullable=True, low=0, high=1,
               description=f"transferred / answered, {_FRACTION}"),
        Column("fcr_rate", _D, required=False, nullable=True, low=0, high=1,
               description=f"first-contact resolution as the source reports it, per answered contact, {_FRACTION}"),
        Column("hold_rate", _D, required=False, nullable=True, low=0, high=1,
               description=f"answered contacts with hold / answered, {_FRACTION}"),
        Column("occupancy", _D, required=False, nullable=True, low=0, high=1,
               description=f"agent occupancy as the source reports it, {_FRACTION}"),
        Column("staffed_s", _D, required=False, nullable=True, low=0,
               description="staffed agent time in the period, seconds (weights occupancy)"),
        Column("csat_mean", _D, required=False, nullable=True, low=1, high=5, description="mean CSAT 1-5"),
        Column("csat_top2", _D, required=False, nullable=True, low=0, high=1,
               description=f"CSAT share of 4 or 5, {_FRACTION}"),
        Column("csat_n", _D, required=False, nullable=True, low=0, description="CSAT responses behind the mean"),
        Column("nps_points", _D, required=False, nullable=True, low=-100, high=100,
               description="NPS, % promoters - % detractors, points -100..100"),
        Column("nps_n", _D, required=False, nullable=True, low=0, description="NPS responses"),
        Column("ces_mean", _D, required=False, nullable=True, low=1, high=7, description="mean CES 2.0, 1-7"),
        Column("ces_n", _D, required=False, nullable=True, low=0, description="CES responses"),
    ),
    key=("period_start", "queue", "channel"),
    time_column="period_start",
    description="aggregate KPIs per period (daily / weekly / interval KPI sheets) when no contact rows exist",
)

TABLES: dict[str, Table] = {
    t.name: t
    for t in (INTERACTIONS, SURVEYS, AGENTS, AGENT_SCORES, EVENTS, STAFFING,
              CUSTOMERS, CUSTOMER_REVENUE, SERIES, AGGREGATES)
}


def table(name: str) -> Table:
    """Return the canonical table called ``name`` (ValueError naming the choices)."""
    try:
        return TABLES[name]
    except KeyError:
        raise ValueError(
            f"unknown canonical table {name!r}; expected one of {sorted(TABLES)}"
        ) from None
