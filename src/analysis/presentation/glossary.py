"""The definitions page: every metric, stage, segment, window and rule the reports use.

Written beside the index (``reports/glossary.html``) and linked from every report. Definitions
that the code decides are generated from the code (the RFM segment of each R x F cell, the
sleeping-list rules, the default windows), so the page cannot drift from what the reports compute.
"""

from __future__ import annotations

import html
import re

from analysis.data.config import AGE_BAND_LABELS, MIN_CELL_SIZE, RFM_WINDOW_DAYS, SLEEPING_DAYS
from analysis.presentation.present import DEFAULT_NAMES

#: (section, term, Chinese term, definition). Parameters are named as the notebooks name them.
ENTRIES: list[tuple[str, str, str, str]] = [
    # -- campaign metrics
    (
        "Campaign metrics",
        "Holdout",
        "对照组",
        "Members drawn at random from the same list as the contacted members and not contacted. What they do in the response "
        "window is what the contacted members would have done without the campaign.",
    ),
    (
        "Campaign metrics",
        "Response window",
        "响应期",
        "Days after a campaign's start in which a purchase or visit counts as a response (`response_days`; default: each "
        "campaign's own, from campaigns.csv). A window that has not ended on the analysis date is marked interim.",
    ),
    ("Campaign metrics", "Returned", "回店", "A contacted (or holdout) member who made a purchase in the response window."),
    ("Campaign metrics", "Return rate", "回店率", "Returned members divided by the members of the arm."),
    (
        "Campaign metrics",
        "Purchase rate",
        "消费率",
        "Members with a purchase in the response window over the members of the arm.",
    ),
    (
        "Campaign metrics",
        "Incremental return rate",
        "增量回店率",
        "An arm's return rate minus its holdout's: the members brought back by the campaign, per member contacted. Shown in "
        "percentage points with a 95 % interval (Newcombe for rate differences).",
    ),
    (
        "Campaign metrics",
        "Incremental returns",
        "增量回店人数",
        "Incremental return rate times the members contacted: how many came back because of the campaign.",
    ),
    ("Campaign metrics", "Spend on return", "回店消费额", "Spend of returned members in the response window."),
    (
        "Campaign metrics",
        "Spend per contacted",
        "每触达会员消费",
        "Spend in the response window over all members of the arm (zero for those who did not come); its difference to the "
        "holdout has an HC2-robust interval.",
    ),
    (
        "Campaign metrics",
        "Cost",
        "成本",
        "Contact cost plus the cost of redeemed gifts (contacts.csv). Unknown costs stay unknown.",
    ),
    (
        "Campaign metrics",
        "Cost per incremental return",
        "每增量回店成本",
        "An arm's cost over its incremental returns, with a bootstrap interval (members resampled within the arm and its "
        "holdout). Not shown when the campaign brought nobody back beyond the holdout.",
    ),
    (
        "Campaign metrics",
        "Before/after comparison",
        "前后对比",
        "The study's table: return count, rate and spend of a wave before and a wave after the new strategy. The naive "
        "difference mixes the strategy with season and list; the holdout-based difference (difference-in-differences of the "
        "incremental rates) removes what the holdouts measure.",
    ),
    (
        "Campaign metrics",
        "Sample-ratio check",
        "样本比例检验",
        "The arm sizes of a campaign against its planned allocation (chi-square goodness of fit); p < 0.001 is flagged as a "
        "mismatch: members were lost or moved between arms after the draw. The plan comes from the campaign's "
        "pre-registration record or the `planned_allocation` parameter.",
    ),
    (
        "Campaign metrics",
        "Pre-registration",
        "预注册",
        "What `mallwake plan` writes before a wave: the list rule, arms and allocation, strata and seed, primary outcome, "
        "response window, alpha, minimum detectable lift, analysis method and the SHA-256 of the contact file.",
    ),
    (
        "Campaign metrics",
        "Uplift and Qini area",
        "增量响应与Qini面积",
        "A member's uplift is the gain in return probability from being contacted, predicted from pre-campaign features "
        "(T-learner: one model among the contacted, one among the holdout, each prediction from models that did not see the "
        "member). The Qini area is the mean gain of targeting by predicted uplift over random targeting, in incremental "
        "returns per 1,000 members listed; its interval not clearing zero means the model does no better than random.",
    ),
    (
        "Campaign metrics",
        "Next wave list",
        "下一波名单",
        "Members ranked by the best arm for each: margin net of cost when the gross margin (`margin_rate` of the spend of a "
        "return) and the arms' costs are known, incremental returns per unit of cost when only the costs are, incremental "
        "returns otherwise; taken in that order while the `budget` lasts. From the uplift models when their Qini interval "
        "clears zero, else from the arms' average effects.",
    ),
    (
        "Campaign metrics",
        "Deviation from the plan",
        "偏离计划",
        "What a wave did differently from its pre-registration record: arms the plan did not have (or planned arms without "
        "members), another start date, response window or number of members. The report states each in one sentence and "
        "judges the recorded primary outcome as planned.",
    ),
    # -- statistics
    (
        "Statistics",
        "95 % interval",
        "95%置信区间",
        "The range of effects compatible with the data at the 5 % level: Wilson for a rate, Newcombe for a difference of "
        "rates, HC2-robust regression for spend, bootstrap for ratios such as cost per incremental return.",
    ),
    (
        "Statistics",
        "p-value",
        "p值",
        "How surprising the data would be without any effect; shown as `< 0.001` below one in a thousand. Where many subgroups "
        "are tested the Holm adjustment is applied (p-value (Holm)).",
    ),
    (
        "Statistics",
        "Adjusted effect",
        "调整后效应",
        "The incremental return rate from a linear probability model with pre-campaign covariates (HC2-robust); constant or "
        "collinear covariates are dropped and named.",
    ),
    (
        "Statistics",
        "Hazard ratio",
        "风险比",
        "From a Cox model of the time to fall asleep: above 1, members with the attribute fall asleep sooner. The "
        "proportional-hazards check reports each covariate's correlation with time.",
    ),
    (
        "Statistics",
        "BG/NBD and Gamma-Gamma",
        "BG/NBD与Gamma-Gamma模型",
        "Models of repeat purchases (frequency, recency, age) and of spend per purchase, fitted by maximum likelihood; with "
        "them, the expected purchases, the probability of being alive and the customer lifetime value (CLV).",
    ),
    (
        "Statistics",
        "Small cells",
        "小样本单元",
        f"Counts below `min_cell` (default {MIN_CELL_SIZE}) are shown as `<{MIN_CELL_SIZE}`; a difference that would reveal "
        "a hidden count is hidden too.",
    ),
    # -- windows and rules
    (
        "Windows and rules",
        "Analysis date",
        "分析日期",
        "The day the reports describe (`as_of`); by default the last date in the data, never today's date.",
    ),
    (
        "Windows and rules",
        "Sleeping member",
        "沉睡会员",
        f"No purchase for at least `sleeping_days` (default {SLEEPING_DAYS}) days; a member who never bought is measured from "
        "the join date.",
    ),
    (
        "Windows and rules",
        "Naive sleeping list",
        "初始沉睡名单",
        "Members of the target tier (`target_tier`) asleep on the list date by the last purchase date alone.",
    ),
    (
        "Windows and rules",
        "Refined sleeping list",
        "精确沉睡名单",
        "The naive list without the invalid sleepers: the rules below, each applied in turn (`lookback_days`, default 90, is "
        "the window in which a visit shows the member still comes).",
    ),
    (
        "Windows and rules",
        "RFM window",
        "RFM窗口",
        f"Recency, frequency and spend are counted over the {RFM_WINDOW_DAYS} days up to the analysis date (or month-end).",
    ),
    (
        "Windows and rules",
        "RFM scores",
        "RFM得分",
        "Quintile scores 1-5 among the members who bought in the window (5: most recent, most frequent, highest spend); "
        "members without a purchase in the window have no scores.",
    ),
    (
        "Windows and rules",
        "Tier rule (downgrade warning)",
        "降级预警规则",
        "Spend since 1 January, continued at the same pace to 31 December, below the yearly threshold of the member's tier "
        "(`tier_thresholds`, e.g. silver:3000,gold:8000): the member is on course to lose the tier at the yearly review.",
    ),
    (
        "Windows and rules",
        "About to sleep",
        "即将沉睡",
        "Members who fall asleep within `warn_days` (default 30) unless they buy (monthly report), or whose modelled risk "
        "of sleeping is 50 % or more (lifecycle report).",
    ),
    ("Windows and rules", "Age bands", "年龄段", "One definition across reports: " + ", ".join(AGE_BAND_LABELS) + " years."),
    # -- lifecycle stages
    ("Lifecycle stages", "New", "新会员", "Joined during the month."),
    ("Lifecycle stages", "Active", "活跃", "Last purchase at most `cooling_days` (default 90) days before the month-end."),
    (
        "Lifecycle stages",
        "Cooling",
        "降温",
        "Last purchase more than `cooling_days` but fewer than `sleeping_days` (default 180) days before the month-end.",
    ),
    (
        "Lifecycle stages",
        "Sleeping",
        "沉睡",
        "At least `sleeping_days` but fewer than `lost_days` (default 365) days without a purchase.",
    ),
    ("Lifecycle stages", "Lost", "流失", "At least `lost_days` days without a purchase."),
    (
        "Lifecycle stages",
        "Reactivated (woken up)",
        "唤醒",
        "Bought during the month after being sleeping or lost at the end of the month before.",
    ),
]


def segment_cells() -> dict[str, list[str]]:
    """Each RFM segment with the (R, F) score pairs it covers, from the segmentation code's map."""
    from analysis.statistics.segmentation import SEGMENTS, segment_lookup

    cells: dict[str, list[str]] = {s: [] for s in SEGMENTS}
    for key, name in segment_lookup().items():
        cells[name].append(f"R{key[0]}F{key[1]}")
    return cells


def _rows() -> list[tuple[str, str, str, str]]:
    from analysis.presentation.phrases import RULE_LABELS
    from analysis.statistics.segmentation import NO_PURCHASE

    rows = list(ENTRIES)
    for rule, text in RULE_LABELS.items():
        rows.append(("Windows and rules", f"Sleeping-list rule: {rule}", "", f"Removed from the refined list: {text}."))
    zh = DEFAULT_NAMES["zh"]
    for segment, cells in segment_cells().items():
        text = (
            "Bought nothing in the RFM window: no scores."
            if segment == NO_PURCHASE
            else "R and F scores " + ", ".join(cells) + "."
        )
        rows.append(("RFM segments", segment, zh.get(segment, ""), text))
    return rows


def _anchor(term: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", term.lower()).strip("-")


def glossary_page(csp_meta: str) -> str:
    """The definitions page (HTML, escaped, offline)."""
    sections: dict[str, list[str]] = {}
    for section, term, zh, text in _rows():
        body = html.escape(text)
        body = re.sub(r"`([^`]+)`", r"<code>\1</code>", body)
        zh_part = f' <span lang="zh-CN">{html.escape(zh)}</span>' if zh else ""
        sections.setdefault(section, []).append(f'<dt id="{_anchor(term)}">{html.escape(term)}{zh_part}</dt><dd>{body}</dd>')
    parts = "".join(f"<section><h2>{html.escape(s)}</h2><dl>{''.join(items)}</dl></section>" for s, items in sections.items())
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">{csp_meta}<title>mallwake: definitions</title>
<style>
body {{ font-family: system-ui, sans-serif; max-width: 900px; margin: 2em auto; padding: 0 1em; color: #222; line-height: 1.45; }}
dt {{ font-weight: bold; margin-top: 0.8em; }} dd {{ margin-left: 1.2em; }} code {{ background: #f3f3f6; padding: 0 0.2em; }}
</style></head><body>
<p><a href="index.html">&larr; all reports</a></p>
<h1>Definitions</h1>
<p>Every metric, stage, segment, window and rule the reports use. Names in <code>code</code> are parameters of the notebooks
(set with <code>mallwake run -p NAME=VALUE</code> or in the data folder's <code>mallwake.yaml</code>).</p>
{parts}
</body></html>"""
