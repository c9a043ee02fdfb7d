"""The monthly member report: KPIs with their changes, movements, campaigns, watch list, narrative.

Definitions (month ``M`` runs from its first to its last day; stages as in :mod:`analysis.statistics.lifecycle`):

* ``members`` - joined on or before the last day of ``M``; ``new`` - joined during ``M``;
* ``active`` - bought at least once during ``M``;
* ``sleeping`` - in the *sleeping* stage on the last day of ``M`` (``sleeping_days`` or more, but
  fewer than ``lost_days``, since the last purchase or, for members who never bought, since joining);
* ``woken`` - bought during ``M`` after being sleeping or lost at the end of the month before;
* ``lost`` - reached ``lost_days`` without a purchase during ``M`` (the flow, not the stock);
* ``spend``, ``purchases`` - transactions during ``M``; ``avg_ticket`` = spend / purchases;
* ``visits`` - visit records (parking, wifi, ...) during ``M``.

Every figure is aggregated in the engine; one row per (month, tier) comes back, with ``"all"``
for the whole membership.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import ibis
import numpy as np
import pandas as pd

from analysis.application.parameters import parse_month  # noqa: F401 - read from here too
from analysis.data.config import RFM_WINDOW_DAYS
from analysis.data.dataset import MallData, is_purchase, session_table
from analysis.data.storage import atomic_write
from analysis.presentation.definitions import COLUMN_TERMS, term
from analysis.presentation.formats import display_name, format_month, format_value, languages
from analysis.presentation.i18n import N_, number, tr
from analysis.statistics.campaigns import compute_campaign_outcomes, estimate_arm_effects, summarize_arms
from analysis.statistics.features import compute_rfm_inputs
from analysis.statistics.lifecycle import STAGES, build_stage_panel_expr
from analysis.statistics.results import Result
from analysis.statistics.segmentation import compute_migration, compute_rfm_scores, evaluate_tier_rules

KPIS = ("members", "new", "active", "sleeping", "woken", "lost", "spend", "purchases", "visits", "avg_ticket")
ALL = "all"

#: The words of the monthly report, by key: English message ids of the catalogs
#: (``locales/<lang>/messages.yaml``); :func:`text` writes one in a language.
TEXT = {
    "members": N_("Members"),
    "new": N_("New members"),
    "active": N_("Active (bought)"),
    "sleeping": N_("Sleeping members"),
    "woken": N_("Woken up"),
    "lost": N_("Lost this month"),
    "spend": N_("Spend"),
    "purchases": N_("Purchases"),
    "visits": N_("Visits"),
    "avg_ticket": N_("Average ticket"),
    "value": N_("this month"),
    "previous": N_("previous month"),
    "mom": N_("month on month"),
    "last_year": N_("same month last year"),
    "yoy": N_("year on year"),
    "tier": N_("tier"),
    "kpi": N_("KPI"),
    "about_to_sleep": N_("{term} (within {days} days)"),
    "title": N_("Monthly member report: {month}"),
    "trend_title": N_("The last 13 months"),
    "by_tier_title": N_("Active members and spend by tier"),
    "stage": N_("stage"),
    "from_stage": N_("stage last month"),
    "to_stage": N_("stage this month"),
    "count": N_("members"),
    "campaign": N_("campaign"),
    "arm": N_("arm"),
    "contacted": N_("contacted"),
    "campaign_id": N_("campaign"),
    "ci_low": N_("interval low"),
    "ci_high": N_("interval high"),
    "window_open": N_("window still open"),
    "segment": N_("RFM segment"),
    "segments_title": N_("RFM segment movements"),
    "rfm_window": N_(
        "RFM scores count purchases and spend over the {days} days up to each month-end (the same definition as the "
        "segmentation report)."
    ),
    "stages_title": N_("Lifecycle stages: end of the previous month (rows) to the end of this month (columns)"),
    "campaigns_title": N_("Campaigns started this month"),
    "watch_title": N_("Watch list"),
    "watch_export": N_(
        "The members behind it ({rows:,}, with raw member ids, for the wake-up team) are in {files} in the run's "
        "exports folder (`exports/<month>/`, outside the report site: keep it private)."
    ),
    "by_tier_heading": N_("By tier"),
    "kpi_heading": N_("Key figures"),
    "no_campaign": N_("No campaign started this month."),
    "now": N_("end of this month"),
    "change": N_("change"),
    "from_segment": N_("segment before"),
    "to_segment": N_("segment now"),
    "share_of_from": N_("share of the segment before"),
}
#: The lifecycle stages as the monthly report names them.
STAGE_NAMES = {
    "(joined)": N_("(joined)"),
    "new": N_("New members"),
    "active": N_("Active"),
    "cooling": N_("Cooling"),
    "sleeping": N_("Sleeping"),
    "lost": N_("Lost members"),
    "reactivated": N_("Reactivated"),
}


def text(key: str, lang: str = "en", **fmt):
    """A label of the monthly report in ``lang`` (one of :data:`~analysis.presentation.formats.languages()`);
    a defined measure (:data:`~analysis.presentation.definitions.COLUMN_TERMS`) is named by its
    defined term, as the definitions page names it."""
    if lang not in languages():
        raise ValueError(f"lang must be one of {sorted(languages())}, got {lang!r}")
    if key in COLUMN_TERMS:
        fmt.setdefault("term", term(COLUMN_TERMS[key], lang=lang))
        if key not in TEXT:  # the defined term is the whole label
            return fmt["term"]
    return _capitalized(tr(TEXT[key], lang=lang, **fmt))


def _capitalized(text: str) -> str:
    """A label as a table header or a heading writes it: its first letter a capital (a language
    without capitals is unchanged)."""
    return text[:1].upper() + text[1:]


def localize(table: pd.DataFrame, lang: str, stages_first: bool = False) -> pd.DataFrame:
    """Column names, index name and stage names of a report table in ``lang`` (unknown names kept).

    ``stages_first``: the columns are lifecycle stages (a stage-to-stage table), not KPIs, so
    ``active`` reads as the stage "Active", not the KPI "Active (bought)".
    """
    words = {k: term(v, lang=lang) for k, v in COLUMN_TERMS.items()} | {
        k: tr(v, lang=lang) for k, v in TEXT.items() if "{" not in v
    }
    stages = {k: tr(v, lang=lang) for k, v in STAGE_NAMES.items()}
    first = stages if stages_first else words
    then = words if stages_first else stages

    def column(c):  # a known name as a header (capitalized); another column keeps its name
        if c in first or c in then:
            return _capitalized(first.get(c, then.get(c)))
        return c

    out = table.rename(columns=column, index=lambda i: stages.get(i, i) if isinstance(i, str) else i)
    out.index.name = _capitalized(words.get(table.index.name, table.index.name)) if table.index.name else None
    out.columns.name = _capitalized(words.get(table.columns.name, table.columns.name)) if table.columns.name else None
    return out


def month_label(month, lang: str = "en") -> str:
    """The month as ``lang`` names it (its locale's form, :func:`~analysis.presentation.formats.format_month`)."""
    if lang not in languages():
        raise ValueError(f"lang must be one of {sorted(languages())}, got {lang!r}")
    return format_month(month, lang)


def parse_month_range(value: str) -> list[str]:
    """``"2024-01..2024-12"`` -> ``["2024-01", ..., "2024-12"]`` (one month alone is allowed)."""
    first, _, last = value.partition("..")
    start, end = parse_month(first), parse_month(last or first)
    if end < start:
        raise ValueError(f"month range {value!r} ends before it starts")
    return [m.strftime("%Y-%m") for m in pd.date_range(start, end, freq="MS")]


def last_complete_month(data: MallData) -> str:
    """The last month that ends on or before the analysis date."""
    as_of = pd.Timestamp(data.as_of)
    month = as_of.to_period("M")
    if as_of != month.to_timestamp(how="end").normalize():
        month -= 1
    return month.strftime("%Y-%m")


# --- KPIs -----------------------------------------------------------------------------


def stage_panel(data: MallData, month, cooling_days: int = 90, sleeping_days: int = 180, lost_days: int = 365):
    """The lifecycle member-month panel up to the end of ``month``, materialized once in the engine.

    Pass it as ``panel=`` to the functions below so the report builds it once, not three times.
    A temporary table of the session (Ibis's ``.cache()`` is avoided: its finalizer fails to
    drop the table on DuckDB and prints a traceback into the report).
    """
    end = parse_month(month) + pd.offsets.MonthEnd(0)
    expr = build_stage_panel_expr(data, None, end, cooling_days, sleeping_days, lost_days)
    return session_table(data.con, expr, "panel")  # the plain expression on Spark (Ibis's cache() loses the month table there)


def compute_monthly_kpis(
    data: MallData, start_month, end_month, cooling_days: int = 90, sleeping_days: int = 180, lost_days: int = 365, panel=None
) -> pd.DataFrame:
    """KPIs (see the module notes) for every month from ``start_month`` to ``end_month``.

    Returns one row per (month, tier), tiers in their configured order after ``"all"``.
    """
    _ = ibis._
    start, end = parse_month(start_month), parse_month(end_month)
    end_day = end + pd.offsets.MonthEnd(0)
    months = pd.date_range(start, end, freq="MS")
    lo, hi = ibis.literal(start.date()), ibis.literal(end.date())

    if panel is None:
        panel = build_stage_panel_expr(data, None, end_day, cooling_days, sleeping_days, lost_days)
    panel = panel.filter((_.month >= lo) & (_.month <= hi))
    became_lost = (_.stage == "lost") & (_.prev_stage.isnull() | (_.prev_stage != "lost"))
    stages = (
        panel.group_by(["month", "tier"])
        .aggregate(
            members=_.count(),
            new=(_.stage == "new").sum(),
            active=_.bought.sum(),
            sleeping=(_.stage == "sleeping").sum(),
            woken=(_.stage == "reactivated").sum(),
            lost=became_lost.sum(),
        )
        .to_pandas()
    )

    m = data.members.select("member_id", "tier")
    t_lo, t_hi = ibis.literal(start), ibis.literal(end_day + pd.Timedelta(days=1))
    t = data.transactions.filter((_.ts >= t_lo) & (_.ts < t_hi)).join(m, "member_id")
    money = (
        t.group_by([_.ts.truncate("M").cast("date").name("month"), "tier"])
        .aggregate(spend=_.amount.sum(), purchases=t.count(where=is_purchase(t)))
        .to_pandas()
    )  # returns: net spend, not purchases
    v = data.visits.filter((_.ts >= t_lo) & (_.ts < t_hi)).join(m, "member_id")
    visits = v.group_by([_.ts.truncate("M").cast("date").name("month"), "tier"]).aggregate(visits=_.count()).to_pandas()

    grid = pd.MultiIndex.from_product([months, list(data.tiers)], names=["month", "tier"])
    frames = []
    for df in (stages, money, visits):
        df = df.assign(month=pd.to_datetime(df["month"])).set_index(["month", "tier"])
        frames.append(df)
    kpis = pd.concat(frames, axis=1).reindex(grid).fillna(0)
    counts = [k for k in KPIS if k not in ("spend", "avg_ticket")]
    total = kpis.groupby(level="month").sum().assign(tier=ALL).set_index("tier", append=True)
    kpis = pd.concat([total, kpis]).astype({k: "int64" for k in counts})
    kpis["spend"] = kpis["spend"].astype(float).round(2)
    kpis["avg_ticket"] = (kpis["spend"] / kpis["purchases"].replace(0, np.nan)).round(2)
    order = {tier: i for i, tier in enumerate((ALL, *data.tiers))}
    kpis = kpis.reset_index()
    kpis = kpis.sort_values(["month", "tier"], key=lambda s: s.map(order) if s.name == "tier" else s).reset_index(drop=True)
    return kpis[["month", "tier", *KPIS]]


@dataclass(frozen=True)
class MonthComparison(Result):
    """One month's KPIs against the previous month and the same month a year earlier."""

    month: pd.Timestamp
    table_all: pd.DataFrame  # kpi x value, previous, change, change_pct, last_year, yoy_pct
    by_tier: pd.DataFrame  # tier x kpi (this month)
    tier_changes: pd.DataFrame  # tier x kpi (change_pct vs previous month)

    def value(self, kpi: str) -> float:
        return float(self.table_all.loc[kpi, "value"])

    def table(self) -> pd.DataFrame:
        return self.table_all


def _pct(now: pd.Series, before: pd.Series) -> pd.Series:
    return (now - before) / before.replace(0, np.nan)


def compare_month(kpis: pd.DataFrame, month) -> MonthComparison:
    """Changes vs the previous month and the same month last year (missing months: NaN)."""
    month = parse_month(month)
    prev, last_year = month - pd.DateOffset(months=1), month - pd.DateOffset(years=1)
    k = kpis.set_index(["month", "tier"])

    def at(when, tier=ALL) -> pd.Series:
        return k.loc[(when, tier), list(KPIS)].astype(float) if (when, tier) in k.index else pd.Series(np.nan, index=list(KPIS))

    now, before, year = at(month), at(prev), at(last_year)
    table = pd.DataFrame(
        {
            "value": now,
            "previous": before,
            "change": now - before,
            "change_pct": _pct(now, before),
            "last_year": year,
            "yoy_pct": _pct(now, year),
        }
    )
    table.index.name = "kpi"
    tiers = [t for t in k.index.get_level_values("tier").unique() if t != ALL]
    by_tier = pd.DataFrame({t: at(month, t) for t in tiers}).T
    tier_changes = pd.DataFrame({t: _pct(at(month, t), at(prev, t)) for t in tiers}).T
    by_tier.index.name = tier_changes.index.name = "tier"
    return MonthComparison(month, table, by_tier, tier_changes)


# --- movements, campaigns, watch list ------------------------------------------------------


def compute_stage_transitions(
    data: MallData, month, cooling_days: int = 90, sleeping_days: int = 180, lost_days: int = 365, panel=None
) -> pd.DataFrame:
    """Members by stage at the end of the previous month (rows) and of ``month`` (columns)."""
    _ = ibis._
    month = parse_month(month)
    p = (
        panel
        if panel is not None
        else build_stage_panel_expr(data, None, month + pd.offsets.MonthEnd(0), cooling_days, sleeping_days, lost_days)
    )
    p = p.filter(_.month == ibis.literal(month.date()))
    tr = (
        p.group_by([_.prev_stage.fill_null("(joined)").name("from_stage"), _.stage.name("to_stage")])
        .aggregate(members=_.count())
        .to_pandas()
    )
    mat = tr.pivot_table(index="from_stage", columns="to_stage", values="members", aggfunc="sum", fill_value=0)
    rows = [s for s in ("(joined)", *STAGES) if s in mat.index]
    return mat.reindex(index=rows, columns=[s for s in STAGES if s in mat.columns], fill_value=0)


def compute_segment_movement(data: MallData, month, window_days: int = RFM_WINDOW_DAYS):
    """RFM segments at the end of the previous month and of ``month``: counts and migration."""
    month = parse_month(month)
    end, prev_end = month + pd.offsets.MonthEnd(0), month - pd.Timedelta(days=1)
    rfm_prev = compute_rfm_scores(compute_rfm_inputs(data, as_of=prev_end, window_days=window_days))
    rfm_now = compute_rfm_scores(compute_rfm_inputs(data, as_of=end, window_days=window_days))
    counts = (
        pd.DataFrame(
            {"previous": rfm_prev["segment"].value_counts(sort=False), "now": rfm_now["segment"].value_counts(sort=False)}
        )
        .fillna(0)
        .astype(int)
    )
    counts["change"] = counts["now"] - counts["previous"]
    counts.index.name = "segment"
    migration = compute_migration(rfm_prev, rfm_now, prev_end.date().isoformat(), end.date().isoformat())
    return counts.reset_index(), migration


def summarize_month_campaigns(data: MallData, month, control_arm: str = "holdout", alpha: float = 0.05) -> pd.DataFrame:
    """Campaigns that started in ``month``: per arm, contacts, return rate, incremental effect, cost.

    The incremental return rate (arm minus ``control_arm``, Newcombe interval) is left empty
    for campaigns without that control arm. ``window_open`` flags campaigns whose response
    window has not closed by the analysis date (figures will still move).
    """
    month = parse_month(month)
    k = data.campaigns.to_pandas()
    start = pd.to_datetime(k["start_date"])
    ids = k.loc[(start >= month) & (start <= month + pd.offsets.MonthEnd(0)), "campaign_id"].tolist()
    cols = [
        "campaign_id",
        "arm",
        "contacted",
        "return_rate",
        "incremental_return_rate",
        "ci_low",
        "ci_high",
        "cost",
        "cost_per_incremental_return",
        "window_open",
    ]
    if not ids:
        return pd.DataFrame(columns=cols)
    outcomes = compute_campaign_outcomes(data, ids)
    # summarize_arms gives contacts, rates, cost and cost per incremental return (empty without a
    # control); the interval comes from the arm effects, for campaigns that have the control arm
    arms = summarize_arms(outcomes, control_arm)
    with_control = outcomes[outcomes["campaign_id"].isin(arms.loc[arms["arm"] == control_arm, "campaign_id"])]
    if len(with_control):
        eff = estimate_arm_effects(with_control, control_arm, alpha).table("return_rate")
        eff = eff[["campaign_id", "arm", "estimate", "ci_low", "ci_high"]].rename(columns={"estimate": "incremental_return_rate"})
        arms = arms.merge(eff, on=["campaign_id", "arm"], how="left")
    else:
        arms = arms.assign(incremental_return_rate=np.nan, ci_low=np.nan, ci_high=np.nan)
    closes = pd.to_datetime(k["start_date"]) + pd.to_timedelta(k["response_days"].astype(int), unit="D")
    open_ids = set(k.loc[closes > pd.Timestamp(data.as_of) + pd.Timedelta(days=1), "campaign_id"])
    arms["window_open"] = arms["campaign_id"].isin(open_ids)
    order = {cid: i for i, cid in enumerate(ids)}
    arms = arms.sort_values(["campaign_id", "arm"], key=lambda c: c.map(order) if c.name == "campaign_id" else c)
    return arms[cols].astype({"contacted": int, "cost": float}).reset_index(drop=True)


def watch_members(
    data: MallData,
    month,
    tier_thresholds: dict[str, float],
    sleeping_days: int = 180,
    warn_days: int = 30,
    cooling_days: int = 90,
    lost_days: int = 365,
    panel=None,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The members behind :func:`compute_watch_list` at the end of ``month``: ``(about, down)``,
    the members about to fall asleep (``member_id``, ``tier``, ``days_since``) and those with a
    downgrade warning (``member_id``, ``tier``, ``qualifies_for``, ``shortfall``)."""
    _ = ibis._
    month = parse_month(month)
    end = month + pd.offsets.MonthEnd(0)
    p = panel if panel is not None else build_stage_panel_expr(data, None, end, cooling_days, sleeping_days, lost_days)
    p = p.filter(
        (_.month == ibis.literal(month.date()))
        & _.stage.isin(["active", "cooling", "reactivated", "new"])
        & (_.days_since >= sleeping_days - warn_days)
    )
    about = p.select("member_id", "tier", "days_since").to_pandas()
    year_start = pd.Timestamp(year=end.year, month=1, day=1)
    elapsed = (end - year_start).days + 1
    ytd = compute_rfm_inputs(data, as_of=end, window_days=elapsed)
    rules = evaluate_tier_rules(ytd, tuple(data.tiers), tier_thresholds, window_days=365, elapsed_days=elapsed)
    down = rules.loc[rules["downgrade_warning"], ["member_id", "tier", "qualifies_for", "shortfall"]].reset_index(drop=True)
    return about, down


def compute_watch_list(
    data: MallData,
    month,
    tier_thresholds: dict[str, float],
    sleeping_days: int = 180,
    warn_days: int = 30,
    cooling_days: int = 90,
    lost_days: int = 365,
    panel=None,
    members: tuple[pd.DataFrame, pd.DataFrame] | None = None,
) -> pd.DataFrame:
    """Counts for the operations team, by tier, at the end of ``month``.

    * ``about_to_sleep`` - not yet sleeping, but ``sleeping_days - warn_days`` or more days since
      the last purchase: asleep within ``warn_days`` unless they buy;
    * ``downgrade_warning`` - spend so far this calendar year, at its pace, would not hold the
      member's tier at the yearly review (:func:`analysis.statistics.segmentation.evaluate_tier_rules`).

    ``members``: the result of :func:`watch_members` when already computed.
    """
    about, down = (
        members
        if members is not None
        else watch_members(data, month, tier_thresholds, sleeping_days, warn_days, cooling_days, lost_days, panel)
    )
    out = pd.DataFrame({"about_to_sleep": about.groupby("tier").size(), "downgrade_warning": down.groupby("tier").size()})
    out = out.reindex(list(data.tiers)).fillna(0).astype(int)
    out.loc[ALL] = out.sum()
    out.index.name = "tier"
    return out.reset_index()


def write_kpi_tables(comparison, output_dir: str) -> list[Path]:
    """The month's KPI tables as CSV beside its report (aggregates only, no member ids):
    ``kpis.csv`` (overall, with the changes) and ``kpis_by_tier.csv``. Nothing when
    ``output_dir`` is empty."""
    if not output_dir:
        return []
    folder = Path(output_dir)
    folder.mkdir(parents=True, exist_ok=True)
    paths = [folder / "kpis.csv", folder / "kpis_by_tier.csv"]

    atomic_write(paths[0], lambda tmp: comparison.table_all.rename_axis("kpi").to_csv(tmp, encoding="utf-8-sig"))
    atomic_write(paths[1], lambda tmp: comparison.by_tier.to_csv(tmp, encoding="utf-8-sig"))
    return paths


# --- narrative ------------------------------------------------------------------------------


def _signed_pct(x: float, lang: str) -> str:
    if x is None or not np.isfinite(x):
        return tr("n/a", lang=lang)
    return number(x, "+.1%", lang)


def write_narrative(
    comparison: MonthComparison,
    watch: pd.DataFrame,
    campaigns: pd.DataFrame,
    lang: str = "en",
    currency: str = "¥",
    warn_days: int = 30,
) -> list[str]:
    """Templated sentences from the month's figures (nothing that is not in the tables), in ``lang``;
    ``warn_days``: the watch list's window (the notebook's parameter)."""
    t = comparison.table_all
    v = {k: t.loc[k, "value"] for k in ("active", "spend", "avg_ticket", "new", "woken", "lost", "sleeping")}
    mom = {f"{k}_mom": _signed_pct(t.loc[k, "change_pct"], lang) for k in ("active", "spend", "sleeping")}
    yoy = {f"{k}_yoy": _signed_pct(t.loc[k, "yoy_pct"], lang) for k in ("active", "spend")}
    w = watch.set_index("tier").loc[ALL]
    out = [
        tr(
            "In {month}, {active:,.0f} members bought at least once ({active_mom} on the previous month, {active_yoy} on a "
            "year earlier); they spent {currency}{spend:,.0f} ({spend_mom}, {spend_yoy} year on year) at an average ticket "
            "of {currency}{avg_ticket:,.0f}.",
            lang=lang,
            month=month_label(comparison.month, lang),
            currency=currency,
            **v,
            **mom,
            **yoy,
        ),
        tr(
            "{new:,.0f} members joined; {woken:,.0f} sleeping or lost members were woken up and {lost:,.0f} became lost; "
            "{sleeping:,.0f} members were asleep at the end of the month ({sleeping_mom}).",
            lang=lang,
            **v,
            **mom,
        ),
        tr(
            "Watch list: {about:,} members will fall asleep within {days} days unless they buy, and {downgrade:,} are on course "
            "to lose their tier at the yearly review on {review} (the rule: their spend since 1 January, continued at the "
            "same pace to the end of the year, falls short of their tier's yearly threshold).",
            lang=lang,
            about=int(w["about_to_sleep"]),
            days=int(warn_days),
            downgrade=int(w["downgrade_warning"]),
            review=f"{pd.Timestamp(comparison.month).year}-12-31",
        ),
    ]
    points = lambda x: format_value(x, "points", lang=lang)  # noqa: E731 - differences of rates, in points
    treated = campaigns[campaigns["incremental_return_rate"].notna()] if len(campaigns) else campaigns
    for _, c in treated.iterrows():
        out.append(
            tr(
                "Campaign {campaign}, arm {arm}: {contacted:,} contacted, incremental return rate {rate} (95% interval {low} "
                "to {high}); {verdict}",
                lang=lang,
                campaign=display_name(c["campaign_id"]),
                arm=display_name(c["arm"]),
                contacted=int(c["contacted"]),
                rate=points(c["incremental_return_rate"]),
                low=points(c["ci_low"]),
                high=points(c["ci_high"]),
                verdict=tr(N_("a real effect.") if c["ci_low"] > 0 else N_("not distinguishable from no effect yet."), lang=lang),
            )
        )
    if not len(campaigns):
        out.append(text("no_campaign", lang))
    return out


def month_metrics(comparison: MonthComparison, watch: pd.DataFrame, campaigns: pd.DataFrame) -> dict:
    """Headline figures for ``metrics.json`` and the index: every KPI with its changes, the watch
    list by tier and the month's campaigns."""
    t = comparison.table_all
    return {
        "month": comparison.month.strftime("%Y-%m"),
        "kpis": {
            k: {"value": t.loc[k, "value"], "change_pct": t.loc[k, "change_pct"], "yoy_pct": t.loc[k, "yoy_pct"]} for k in KPIS
        },
        "by_tier": {tier: {k: comparison.by_tier.loc[tier, k] for k in KPIS} for tier in comparison.by_tier.index},
        "watch": {
            r["tier"]: {"about_to_sleep": int(r["about_to_sleep"]), "downgrade_warning": int(r["downgrade_warning"])}
            for _, r in watch.iterrows()
        },
        "campaigns": campaigns.to_dict(orient="records"),
    }
