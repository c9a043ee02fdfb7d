"""All figures. Every function takes ``ax=None`` and returns the Axes; nothing is shown or saved."""

from __future__ import annotations

import warnings
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns

from analysis.presentation.context import current
from analysis.presentation.formats import display_name
from analysis.presentation.formats import label as label_of
from analysis.presentation.i18n import N_, number, tr
from analysis.presentation.languages import language
from analysis.presentation.webfont import cjk_font_path


def figure_alt(fig) -> str:
    """A text alternative of a figure, from what it says on its face: titles, axis labels and
    legend entries (``Figure: <title>: <y> by <x> (<series>)`` per panel)."""
    parts = []
    suptitle = fig._suptitle.get_text() if getattr(fig, "_suptitle", None) is not None else ""
    for ax in fig.axes:
        if not ax.get_visible() or (not ax.has_data() and not ax.get_title()):
            continue  # colour bars and empty panels
        what = ax.get_title() or ""
        y, x = ax.get_ylabel(), ax.get_xlabel()
        axis = tr("{y} by {x}", y=y, x=x) if y and x else y or x
        legend = ax.get_legend()
        series = [t.get_text() for t in legend.get_texts()][:6] if legend is not None else []
        text = ": ".join(p for p in (what, axis) if p)
        if series:
            text += f" ({', '.join(series)})"
        if text:
            parts.append(text)
    body = "; ".join(parts[:8])
    head = suptitle or (tr("Figure") if body else "Figure without labels")
    return f"{head}: {body}" if body else head


#: The colour of the arm that was not contacted, in every figure.
HOLDOUT_COLOR = "#8c8c8c"


def tier_order(values) -> list:
    """``values`` with the tiers in tier order (lowest first, as configured), anything else after them."""
    values = list(dict.fromkeys(values))
    known = [t for t in current().tiers if t in values]
    return known + sorted((v for v in values if v not in known), key=str)


def tier_colors(tiers=None) -> dict:
    """One colour per tier, the same in every figure: a light-to-dark ramp from the lowest tier to
    the highest (the configured levels; ``tiers`` when none are configured)."""
    levels = list(current().tiers)
    levels += [t for t in dict.fromkeys(tiers if tiers is not None else []) if t not in levels]  # levels not configured
    ramp = sns.color_palette("crest", max(len(levels), 2))
    return {t: ramp[i] for i, t in enumerate(levels)}


def arm_colors(arms, control_arm: str = "holdout") -> dict:
    """One colour per arm, the holdout always grey; treated arms in name order on one palette."""
    treated = sorted({str(a) for a in arms if str(a) != control_arm})
    palette = sns.color_palette("deep", 10)
    colors = {a: palette[i % 10] for i, a in enumerate(treated)}
    colors[control_arm] = HOLDOUT_COLOR
    return colors


#: A report's column is about 1,000 px wide; a figure wider than this many inches (at 100 dpi) is
#: shrunk to fit and its text with it.
PAGE_INCHES = 11.0
#: The smallest text a figure may show, in pixels on the page (tests/test_plots.py).
MIN_TEXT_PX = 9.0


def panels(n: int, width: float = 5.5, height: float = 3.6, per_row: int = 2):
    """A figure of ``n`` panels, at most ``per_row`` side by side (more go to further rows), so the
    page never shrinks it and its text below :data:`MIN_TEXT_PX`. Returns the figure and the ``n``
    axes (unused cells of the grid are removed)."""
    cols = max(1, min(n, per_row))
    rows = -(-n // cols)
    fig, grid = plt.subplots(
        rows, cols, figsize=(min(width * cols, PAGE_INCHES), height * rows), squeeze=False, layout="constrained"
    )
    axes = list(grid.flat)
    for ax in axes[n:]:
        ax.remove()
    return fig, axes[:n]


def smallest_text_px(fig, page_px: float = 1000.0) -> float:
    """The smallest text of ``fig`` as the page shows it: points at the figure's dpi, scaled down when
    the figure is wider than the page's column."""
    dpi = fig.dpi
    scale = min(1.0, page_px / (fig.get_figwidth() * dpi))
    texts = list(fig.findobj(lambda a: hasattr(a, "get_text") and hasattr(a, "get_fontsize")))
    for ax in fig.axes:  # tick labels (public API: no full draw of the figure)
        texts += list(ax.get_xticklabels()) + list(ax.get_yticklabels())
    sizes = [t.get_fontsize() for t in texts if t.get_visible() and str(t.get_text()).strip()]
    return min(sizes) * dpi / 72 * scale if sizes else float("inf")


def _ax(ax, figsize=(8, 4)):
    if ax is None:
        _, ax = plt.subplots(figsize=figsize)
    return ax


#: Columns that hold money (their axes show the currency and plain units, never a 1e6 offset).
MONEY_COLUMNS = frozenset({"spend", "avg_ticket", "monetary", "revenue", "cost", "clv", "spend_per_member", "margin"})


def axis_units(ax, kind: str, axis: str = "y"):
    """Tick labels of ``axis`` as ``kind``: ``money`` (currency of the report, thousands separators,
    no offset), ``count`` (separators) or ``percent``. Returns ``ax``."""
    from matplotlib.ticker import FuncFormatter

    def money(v, _pos):
        return f"{'-' if v < 0 else ''}{current().currency}{number(abs(v), ',.0f')}"

    formats = {"money": money, "count": lambda v, _pos: number(v, ",.0f"), "percent": lambda v, _pos: number(v, ".0%")}
    if kind not in formats:
        raise ValueError(f"unknown axis kind {kind!r}; one of {', '.join(formats)}")
    target = ax.yaxis if axis == "y" else ax.xaxis
    target.set_major_formatter(FuncFormatter(formats[kind]))
    return ax


def _units_for(ax, column: str, axis: str = "y"):
    return axis_units(ax, "money" if column in MONEY_COLUMNS else "count", axis)


def _names(values) -> list[str]:
    """Data labels (tiers, arms) under their display names."""
    return [display_name(v) for v in values]


def plot_monthly_activity(monthly: pd.DataFrame, column: str = "spend", ax=None, label: str | None = None, **kwargs):
    """Line chart of one monthly series from :func:`~analysis.statistics.overview.compute_monthly_activity`."""
    ax = _ax(ax)
    sns.lineplot(data=monthly, x="month", y=column, marker="o", ax=ax, label=label, **kwargs)
    ax.set_xlabel("")
    ax.set_ylabel(label_of(column))
    _units_for(ax, column)
    ax.grid(alpha=0.3)
    return ax


def plot_members_by_tier(by_tier: pd.DataFrame, ax=None, **kwargs):
    """Bar chart of members per tier."""
    ax = _ax(ax, (6, 3.5))
    colors = tier_colors(by_tier["tier"])
    ax.bar(
        _names(by_tier["tier"]), by_tier["members"], **({"color": [colors.get(t, "#4c72b0") for t in by_tier["tier"]]} | kwargs)
    )
    for p, share in zip(ax.patches, by_tier["share"]):
        ax.annotate(number(share, ".0%"), (p.get_x() + p.get_width() / 2, p.get_height()), ha="center", va="bottom")
    ax.set_xlabel(tr("card tier"))
    ax.set_ylabel(tr("members"))
    axis_units(ax, "count")
    return ax


def plot_join_cohorts(cohorts: pd.DataFrame, ax=None, **kwargs):
    """Stacked bars: members by join year and tier."""
    ax = _ax(ax, (7, 3.5))
    cols = tier_order(cohorts.columns)
    colors = tier_colors(cols)
    cohorts[cols].rename(columns=lambda c: _names([c])[0]).plot(
        kind="bar", stacked=True, ax=ax, **({"color": [colors.get(c, HOLDOUT_COLOR) for c in cols]} | kwargs)
    )
    ax.set_xlabel(tr("join year"))
    ax.set_ylabel(tr("members"))
    ax.legend(title=tr("tier"), frameon=False, loc="upper left", bbox_to_anchor=(1.01, 1))
    return ax


def plot_funnel(funnel: pd.DataFrame, ax=None, **kwargs):
    """Horizontal bars: members left on the sleeping list after each refinement rule."""
    ax = _ax(ax, (8, 3.5))
    labels = pd.Series(_names(funnel["step"]), index=funnel.index).str.replace("minus: ", "- ", regex=False)
    colors = ["#8c8c8c"] + ["#4c72b0"] * (len(funnel) - 1)
    ax.barh(labels[::-1], funnel["remaining"][::-1], **({"color": colors[::-1]} | kwargs))
    for y, (n, share) in enumerate(zip(funnel["remaining"][::-1], funnel["share_of_naive"][::-1])):
        ax.text(n, y, f" {number(n, ',')} ({number(share, '.0%')})", va="center")
    ax.set_xlabel(tr("members on the list"))
    ax.set_xlim(0, funnel["remaining"].max() * 1.25)
    return ax


def plot_rates_with_intervals(
    table: pd.DataFrame,
    label: str,
    rate: str = "return_rate",
    low: str = "ci_low",
    high: str = "ci_high",
    ax=None,
    percent: bool = True,
    **kwargs,
):
    """Point and interval per row (e.g. return rate by arm with Wilson intervals)."""
    ax = _ax(ax, (7, 0.5 + 0.45 * len(table)))
    y = range(len(table))
    err = [(table[rate] - table[low]).clip(lower=0), (table[high] - table[rate]).clip(lower=0)]  # rounding can dip below 0
    ax.errorbar(table[rate], y, xerr=err, **({"fmt": "o", "color": "#4c72b0", "capsize": 3} | kwargs))
    ax.set_yticks(list(y), [" / ".join(_names(str(v).split(" / "))) for v in table[label]])
    ax.invert_yaxis()
    if percent:
        ax.xaxis.set_major_formatter(plt.matplotlib.ticker.PercentFormatter(1.0))
    if not ax.get_xlabel():
        ax.set_xlabel(label_of(rate))
    ax.grid(axis="x", alpha=0.3)
    return ax


def plot_forest(effects: pd.DataFrame, label: str, ax=None, percent: bool = True, title: str | None = None, **kwargs):
    """Forest plot of effects with intervals and a zero line."""
    ax = plot_rates_with_intervals(effects, label, "estimate", "ci_low", "ci_high", ax=ax, percent=percent, **kwargs)
    ax.axvline(0, color="#c44e52", lw=1, ls="--")
    if title:
        ax.set_title(title)
    return ax


def plot_qini(result, ax=None, **kwargs):
    """The Qini curve of an uplift model (:class:`~analysis.statistics.uplift.QiniResult`): the
    incremental returns as the list grows, highest predicted uplift first, against random targeting."""
    ax = _ax(ax, figsize=(6, 4))
    curve = result.curve
    ax.plot(curve["depth"], curve["model"], label=tr("uplift model"), **kwargs)
    ax.plot(curve["depth"], curve["random"], ls="--", color="#8c8c8c", label=tr("random targeting"))
    ax.set_xlabel(tr("share of the list targeted (highest predicted uplift first)"))
    ax.set_ylabel(tr("incremental returns"))
    ax.xaxis.set_major_formatter(plt.matplotlib.ticker.PercentFormatter(1.0))
    ax.set_title(display_name(f"{result.campaign_id} / {result.arm}"))
    ax.legend(frameon=False, loc="upper left", bbox_to_anchor=(1.01, 1))
    return ax


def plot_cumulative_returns(outcomes: pd.DataFrame, campaign_id: str, ax=None, **kwargs):
    """Share of each arm returned by day since the campaign start."""
    ax = _ax(ax, (7, 4))
    df = outcomes[outcomes["campaign_id"] == campaign_id]
    days = int(df["response_days"].max())
    grid = range(days + 1)
    colors = arm_colors(df["arm"].unique())
    for arm, grp in df.groupby("arm", sort=True):
        d = grp["days_to_return"].dropna()
        share = [(d < k).sum() / len(grp) for k in grid]
        ax.step(
            list(grid),
            share,
            where="post",
            label=f"{_names([arm])[0]} (n={number(len(grp), ',')})",
            **({"color": colors[str(arm)]} | kwargs),
        )
    ax.yaxis.set_major_formatter(plt.matplotlib.ticker.PercentFormatter(1.0))
    ax.set_xlabel(tr("days since campaign start"))
    ax.set_ylabel(tr("returned"))
    # below the panel: arm names are long, and several panels stand side by side
    ax.legend(frameon=False, loc="upper center", bbox_to_anchor=(0.5, -0.22), fontsize="small")
    ax.grid(alpha=0.3)
    return ax


def plot_interaction(cell_rates: pd.DataFrame, ax=None, **kwargs):
    """Interaction plot: return rate by gift, one line per channel."""
    ax = _ax(ax, (6, 4))
    cells = cell_rates[cell_rates["gift"] != "none"]
    cells = cells.assign(gift=_names(cells["gift"]), channel=_names(cells["channel"]))
    sns.pointplot(data=cells, x="gift", y="return_rate", hue="channel", ax=ax, **({"markers": "o"} | kwargs))
    ax.yaxis.set_major_formatter(plt.matplotlib.ticker.PercentFormatter(1.0))
    ax.set_ylabel(tr("return rate"))
    ax.set_xlabel(label_of("gift"))
    if ax.get_legend() is not None:
        ax.get_legend().set_title(label_of("channel"))
    return ax


def plot_counterfactual(series: pd.DataFrame, start, ax=None, weeks_before: int = 52, **kwargs):
    """Weekly reactivations with the model's counterfactual band after the campaign start."""
    ax = _ax(ax, (9, 4))
    start = pd.Timestamp(start)
    s = series[series["week"] >= start - pd.Timedelta(weeks=weeks_before)]
    ax.plot(s["week"], s["actual"], **({"color": "#222", "lw": 1.2, "label": tr("actual")} | kwargs))
    after = s[s["period"] == "after"]
    ax.plot(after["week"], after["predicted"], color="#4c72b0", ls="--", label=tr("counterfactual (no campaign)"))
    ax.fill_between(
        after["week"], after["ci_low"], after["ci_high"], color="#4c72b0", alpha=0.25, label=tr("counterfactual band")
    )
    ax.axvline(start, color="#c44e52", lw=1)
    ax.set_ylabel(tr("reactivations per week"))
    ax.legend(frameon=False, loc="upper left", bbox_to_anchor=(1.01, 1))
    return ax


def plot_rf_heatmap(grid: pd.DataFrame, ax=None, label: str = N_("mean spend"), **kwargs):
    """Heatmap of a value by R score (rows) and F score (columns)."""
    ax = _ax(ax, (6, 4.5))
    sns.heatmap(grid, annot=True, fmt=",.0f", cmap="YlGnBu", ax=ax, cbar_kws={"label": tr(label)})
    ax.set_xlabel(tr("F score (purchases)"))
    ax.set_ylabel(tr("R score (recency)"))
    return ax


def plot_segment_shares(summary: pd.DataFrame, ax=None, **kwargs):
    """Members and spend share per RFM segment, side by side."""
    ax = _ax(ax, (9, 4))
    share_of = tr("share of")
    long = summary.melt(id_vars="segment", value_vars=["member_share", "spend_share"], var_name=share_of, value_name="share")
    long[share_of] = long[share_of].map({"member_share": tr("members"), "spend_share": tr("spend")})
    long["segment"] = _names(long["segment"])
    sns.barplot(data=long, y="segment", x="share", hue=share_of, ax=ax, orient="h", **kwargs)
    ax.xaxis.set_major_formatter(plt.matplotlib.ticker.PercentFormatter(1.0))
    ax.set_ylabel("")
    ax.set_xlabel(tr("share"))
    return ax


def plot_top_shares(tops: pd.DataFrame, ax=None, **kwargs):
    """Bars: the share of spend from the top 1 %, 5 %, 20 % of members (``segmentation.top_shares``)."""
    ax = _ax(ax, (5, 4))
    labels = [tr("top {share:.0%}", share=t) for t in tops["top_share"]]
    ax.bar(labels, tops["spend_share"], **({"color": "#4c72b0"} | kwargs))
    ax.yaxis.set_major_formatter(plt.matplotlib.ticker.PercentFormatter(1.0))
    ax.set_ylabel(tr("share of spend"))
    return ax


def plot_lorenz(lorenz: pd.DataFrame, gini_value: float | None = None, ax=None, **kwargs):
    """Lorenz curve of spend with the line of equality."""
    ax = _ax(ax, (5, 5))
    ax.plot(lorenz["member_share"], lorenz["spend_share"], color="#4c72b0", label=tr("members, lowest spend first"))
    ax.plot([0, 1], [0, 1], color="#888", ls="--", lw=1, label=tr("equal spend"))
    ax.fill_between(lorenz["member_share"], lorenz["spend_share"], lorenz["member_share"], color="#4c72b0", alpha=0.15)
    ax.set_xlabel(tr("share of members"))
    ax.set_ylabel(tr("share of spend"))
    if gini_value is not None:
        ax.set_title(tr("Gini = {gini:.2f}", gini=gini_value))
    ax.legend(frameon=False, loc="upper left", bbox_to_anchor=(1.01, 1))
    return ax


def plot_transition_heatmap(shares: pd.DataFrame, ax=None, fmt: str = ".0%", title: str | None = None, **kwargs):
    """Heatmap of a transition matrix (rows: from, columns: to)."""
    ax = _ax(ax, (9, 7))
    shares = shares.rename(index=lambda v: _names([v])[0], columns=lambda v: _names([v])[0])
    sns.heatmap(shares, annot=True, fmt=fmt, cmap="Blues", ax=ax, cbar=False, annot_kws={"size": 8})
    ax.set_xlabel(tr("to"))
    ax.set_ylabel(tr("from"))
    if title:
        ax.set_title(title)
    return ax


def plot_cluster_pairs(members: pd.DataFrame, labels, columns: list[str], n: int = 1500, seed: int = 0, **kwargs):
    """Pairplot of a sample of members coloured by cluster (returns the seaborn PairGrid)."""
    df = members[columns].assign(cluster=labels.astype(str).to_numpy())
    df = df.sample(min(n, len(df)), random_state=seed).rename(columns=lambda c: c if c == "cluster" else label_of(c))
    grid = sns.pairplot(df, hue="cluster", corner=True, plot_kws={"s": 8, "alpha": 0.5} | kwargs, height=1.9)
    for ax in [*np.diag(grid.axes), *(grid.diag_axes if grid.diag_axes is not None else [])]:
        if ax is not None and ax.get_ylabel():
            ax.set_ylabel(tr("density"))
    if grid.legend is not None:
        grid.legend.set_title(label_of("cluster"))
    return grid.axes  # a figure of its own (seaborn's pair grid): its Axes, lower triangle


STAGE_COLORS = {
    "new": "#8172b3",
    "active": "#55a868",
    "cooling": "#ccb974",
    "sleeping": "#dd8452",
    "lost": "#8c8c8c",
    "reactivated": "#4c72b0",
}


def plot_stage_area(counts: pd.DataFrame, ax=None, **kwargs):
    """Stacked area of members per lifecycle stage over time."""
    ax = _ax(ax, (10, 4.5))
    cols = [c for c in STAGE_COLORS if c in counts.columns]
    ax.stackplot(counts.index, [counts[c] for c in cols], labels=_names(cols), colors=[STAGE_COLORS[c] for c in cols], alpha=0.9)
    ax.set_ylabel(tr("members"))
    ax.legend(frameon=False, loc="upper left", bbox_to_anchor=(1.01, 1))
    return ax


def plot_net_flows(net: pd.DataFrame, ax=None, **kwargs):
    """Bars per month: members who fell asleep (down) and who were woken (up)."""
    ax = _ax(ax, (10, 3.5))
    ax.bar(net["month"], net["woken"], width=20, color=STAGE_COLORS["reactivated"], label=tr("woken (reactivated)"))
    ax.bar(net["month"], -net["fell_asleep"], width=20, color=STAGE_COLORS["sleeping"], label=tr("fell asleep"))
    ax.axhline(0, color="#222", lw=0.8)
    ax.set_ylabel(tr("members per month"))
    ax.legend(frameon=False, loc="upper left", bbox_to_anchor=(1.01, 1))
    return ax


def plot_cohort_heatmap(table: pd.DataFrame, ax=None, fmt: str = ".0%", label: str = N_("share buying"), **kwargs):
    """Cohort heatmap: rows join month, columns months since joining."""
    ax = _ax(ax, (12, 7))
    sns.heatmap(table, cmap="viridis", ax=ax, cbar_kws={"label": tr(label)}, annot=False, fmt=fmt)
    ax.set_xlabel(tr("months since joining"))
    ax.set_ylabel(tr("join month"))
    return ax


def plot_survival(curves: pd.DataFrame, ax=None, **kwargs):
    """Kaplan-Meier curves with confidence bands, one per group."""
    ax = _ax(ax, (8, 4.5))
    colors = tier_colors(curves["group"].unique())
    for g in tier_order(curves["group"].unique()):
        c = curves[curves["group"] == g]
        (line,) = ax.step(
            c["time"], c["survival"], where="post", label=_names([g])[0], **({"color": colors[g]} if g in colors else {})
        )
        ax.fill_between(c["time"], c["ci_low"], c["ci_high"], step="post", alpha=0.2, color=line.get_color())
    ax.set_xlabel(tr("days since joining"))
    ax.set_ylabel(tr("share not yet asleep"))
    ax.set_ylim(0, 1.02)
    ax.legend(frameon=False, title="", loc="upper left", bbox_to_anchor=(1.01, 1))
    return ax


def plot_calibration(
    table: pd.DataFrame, predicted: str = "predicted", observed: str = "observed", label: str = "decile", ax=None, **kwargs
):
    """Predicted vs observed, with the diagonal."""
    ax = _ax(ax, (4.5, 4.5))
    ax.plot(table[predicted], table[observed], "o-", color="#4c72b0")
    lim = [0, max(table[predicted].max(), table[observed].max()) * 1.05]
    ax.plot(lim, lim, "--", color="#888", lw=1)
    ax.set_xlabel(tr("predicted"))
    ax.set_ylabel(tr("observed"))
    return ax


def plot_palive_matrix(summary: pd.DataFrame, ax=None, bins: int = 8, **kwargs):
    """Mean P(alive) by frequency (rows) and recency (columns) bins."""
    ax = _ax(ax, (8, 5))
    df = summary.assign(
        freq_bin=summary["frequency"].clip(upper=bins * 3) // 3 * 3,
        rec_bin=pd.cut(
            summary["recency"] / summary["T"].clip(lower=1e-9),
            np.linspace(0, 1, 6),
            include_lowest=True,
            labels=["0-20%", "20-40%", "40-60%", "60-80%", "80-100%"],
        ),
    )
    grid = df.pivot_table(index="freq_bin", columns="rec_bin", values="p_alive", aggfunc="mean", observed=False)
    sns.heatmap(
        grid.sort_index(ascending=False),
        cmap="RdYlGn",
        vmin=0,
        vmax=1,
        annot=True,
        fmt=".2f",
        ax=ax,
        cbar_kws={"label": tr("P(alive)")},
    )
    ax.set_xlabel(tr("recency / age (1 = bought at the very end)"))
    ax.set_ylabel(tr("repeat purchase days (binned)"))
    return ax


# --- monthly report ---------------------------------------------------------------------


def use_language(lang: str) -> str:
    """Set matplotlib up for ``lang`` and return the language figures can really be labelled in.

    For ``zh`` the Noto Sans CJK SC font shipped by the ``mplfonts`` package is registered (no
    system font needed). If it cannot be found, a warning says so and figures fall back to
    English labels (rather than showing empty boxes); tables and text stay in Chinese.
    """
    from matplotlib import font_manager

    if not language(lang).cjk:
        return lang
    path = cjk_font_path()
    if path is None:
        warnings.warn("no Chinese font found (install the `mplfonts` package): figure labels fall back to English", stacklevel=2)
        return "en"
    font_manager.fontManager.addfont(str(path))
    name = font_manager.FontProperties(fname=str(path)).get_name()
    plt.rcParams["font.sans-serif"] = [name, *[f for f in plt.rcParams["font.sans-serif"] if f != name]]
    plt.rcParams["font.family"] = "sans-serif"
    plt.rcParams["axes.unicode_minus"] = False
    sns.set_theme(style="whitegrid", context="notebook", font=name, rc={"axes.unicode_minus": False})
    return lang


def save_figure(fig, directory, name: str):
    """Save ``fig`` as ``directory/name.png`` with no timestamp or version metadata, so equal
    inputs give equal bytes. No-op (returns None) when ``directory`` is empty."""
    if not directory:
        return None
    path = Path(directory) / f"{name}.png"
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100, metadata={"Software": None}, bbox_inches="tight")
    return path


def plot_kpi_trends(
    kpis: pd.DataFrame, labels: dict[str, str], columns=("active", "spend", "sleeping", "woken"), month=None, axes=None, **kwargs
):
    """Small multiples: the whole membership's KPIs month by month, the report month marked.
    Returns the Axes (one per KPI; ``axes`` to draw into given ones)."""
    allm = kpis[kpis["tier"] == "all"]
    if axes is None:  # two to a row: four side by side were shrunk on the page to 8 px text
        fig, axes = panels(len(columns), width=5.5, height=2.8)
    axes = np.atleast_1d(axes)
    fig = axes[0].figure
    for ax, col in zip(axes, columns):
        ax.plot(allm["month"], allm[col], **({"marker": "o", "ms": 3, "color": "#4c72b0"} | kwargs))
        if month is not None:
            cur = allm[allm["month"] == pd.Timestamp(month)]
            ax.plot(cur["month"], cur[col], marker="o", ms=7, color="#c44e52")
        ax.set_title(labels.get(col, col))
        ax.tick_params(axis="x", labelrotation=45, labelsize=8)
        ax.xaxis.set_major_formatter(plt.matplotlib.dates.DateFormatter("%y-%m"))
        _units_for(ax, col)
        ax.grid(alpha=0.3)
    if fig.get_layout_engine() is None:
        fig.tight_layout()
    return axes


def plot_tier_kpis(by_tier: pd.DataFrame, labels: dict[str, str], columns=("active", "spend"), axes=None, **kwargs):
    """Bars per tier (in tier order) for the month's KPIs. Returns the Axes (one per KPI)."""
    if axes is None:
        fig, axes = plt.subplots(1, len(columns), figsize=(4.2 * len(columns), 2.8))
    axes = np.atleast_1d(axes)
    fig = axes[0].figure
    for ax, col in zip(axes, columns):
        colors = tier_colors(by_tier.index)
        ax.bar(_names(by_tier.index), by_tier[col], **({"color": [colors.get(t, "#55a868") for t in by_tier.index]} | kwargs))
        ax.set_title(labels.get(col, col))
        _units_for(ax, col)
        ax.grid(alpha=0.3, axis="y")
    fig.tight_layout()
    return axes
