"""The words and formats of one report: labels, display names, and how a value of each kind reads.

A report table is what a mall manager reads, not what pandas prints: human column labels in the
report's language, counts as integers with thousands separators, rates as percentages, money with
the data's currency, p-values as ``< 0.001``, missing values as ``–``, and data labels (tiers,
arms, channels, gifts) under the display names the data folder gives.

Each column has a *kind* (count, percent, money, p, number, date, bool, text): declared by the
code that builds the table (``kinds=``), else inferred from its name and values
(:func:`infer_kind`). One function formats a value of a kind (:func:`format_value`); tables are
built from these by :mod:`analysis.presentation.present`, sentences by
:mod:`analysis.presentation.phrases`.

The settings of one report (language, currency, display names) are set once per kernel by
:func:`configure` in the notebook's set-up cell; a kernel renders one report.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from analysis.presentation.languages import LANGUAGES, language

#: What a missing value (NaN, NaT, None, pd.NA) shows as in every report table.
MISSING = "–"

#: Display names of the default tiers (a data folder's ``display_names`` adds and overrides).
DEFAULT_NAMES = {
    "en": {"normal": "Normal", "silver": "Silver", "gold": "Gold", "platinum": "Platinum"},
    "zh": {
        "normal": "普卡",
        "silver": "银卡",
        "gold": "金卡",
        "platinum": "白金卡",
        # RFM segments (analysis.statistics.segmentation.SEGMENTS)
        "Champions": "核心会员",
        "Loyal": "忠诚会员",
        "Potential loyalist": "潜力会员",
        "New": "新客",
        "Promising": "有望会员",
        "Need attention": "需关注",
        "Slipping": "渐趋冷淡",
        "At risk": "流失风险",
        "Cannot lose": "不能失去",
        "Hibernating": "休眠",
        "Lost": "已流失",
        "No purchase in window": "窗口内无消费",
        # waves of a before/after comparison, lifecycle stages, targeting advice
        "before": "之前",
        "after": "之后",
        "new": "新会员",
        "active": "活跃",
        "cooling": "降温",
        "sleeping": "沉睡",
        "lost": "流失",
        "reactivated": "重新活跃",
        "target": "触达",
        "skip": "跳过",
        "no evidence": "无证据",
        "costs more than it brings": "得不偿失",
        "pays": "划算",
        "loses money": "亏钱",
        "cannot tell": "无法判断",
        "cost unknown": "成本未知",
        "holdout": "对照组",
        "any contact": "任一触达",
        # assignment checks, sleeping-list rules and groups
        "no plan recorded": "未记录计划",
        "pre-registration": "预注册记录",
        "planned_allocation parameter": "planned_allocation 参数",
        "not checked": "未检查",
        "as planned": "符合计划",
        "MISMATCH": "不匹配",
        "arms not in the plan": "组别不在计划中",
        "present": "仍到店",
        "unreachable": "无法触达",
        "opted_out": "拒收营销",
        "duplicate": "重复卡",
        "naive list": "初始名单",
        "refined list": "精确名单",
        "whole naive list": "整个初始名单",
        "none (refined list)": "无（精确名单）",
        "invalid: present": "无效：仍到店",
        "invalid: unreachable": "无效：无法触达",
        "invalid: opted_out": "无效：拒收营销",
        "invalid: duplicate": "无效：重复卡",
        "invalid: not on the list": "无效：不在名单上",
        "steady state": "稳态",
        "now": "当前",
        "female": "女",
        "male": "男",
        # store categories of the demo mall
        "apparel": "服装",
        "beverage": "饮品",
        "cinema": "影院",
        "dining": "餐饮",
        "jewelry": "珠宝",
        "kids": "儿童",
        "luxury": "奢侈品",
        "supermarket": "超市",
        # the self-checks of the teaching notebooks
        "right": "正确",
        "wrong": "错误",
        "open": "未作答",
    },
}

#: Column labels per language. Keys are the names the analysis code uses; a name not listed
#: reads as words ("cost_per_contacted" -> "Cost per contacted") in English.
LABELS: dict[str, dict[str, str]] = {
    "en": {
        "gain_per_1000_listed": "Gain per 1,000 listed",
        "median_shortfall_of_warned": "Median shortfall (warned members)",
        "log_early_spend": "Early spend (log)",
        "n": "n",
        "p": "p",
        "p_value": "p-value",
        "p_holm": "p-value (Holm)",
        "se": "Std. error",
        "std_error": "Std. error",
        "ci_low": "CI low",
        "ci_high": "CI high",
        "lower": "CI low",
        "upper": "CI high",
        "n_control": "n (holdout)",
        "n_treated": "n (treated)",
        "control_mean": "Holdout mean",
        "member_id": "Member",
        "txn_id": "Transaction",
        "store_id": "Store",
        "ts": "Time",
        "is_return": "Return (refund)",
        "avg_ticket": "Average ticket",
        "rho_with_time": "Correlation with time",
        "test_statistic": "Chi-square",
        "bic": "BIC",
        "k": "k",
        "recency_days": "Recency (days)",
        "mean_recency_days": "Mean recency (days)",
        "invalid_sleepers": "Not really asleep",
        "invalid_share": "Share not really asleep",
        "naive_overstates_by": "Naive list overstates by",
        "sleeping_days": "Sleeping after (days)",
        "removed_alone": "Removed by this rule alone",
        "share_of_naive": "Share of naive list",
        "campaign_id": "Campaign",
        "holdout_mae": "Holdout error (mean absolute, per member)",
        "predicted_total": "Predicted in the holdout",
        "actual_total": "Seen in the holdout",
        "log_likelihood_per_member": "Log-likelihood per member (calibration)",
        "identified": "Identified",
        "net_per_contacted": "Net value per contacted",
        "ci_low_unadjusted": "CI low (unadjusted)",
        "ci_high_unadjusted": "CI high (unadjusted)",
        "total_ci_low": "Total CI low",
        "total_ci_high": "Total CI high",
        "incremental_returned": "Incremental returns",
        "weeks_above_band": "Weeks above the band",
        "member_share": "Share of members",
        "spend_share": "Share of spend",
        "missing_share": "Share missing",
        "alpha": "alpha",
        "a": "a",
        "b": "b",
        "r": "r",
        "q": "q",
        "v": "v",
        "chi2": "Chi-square",
        "rfm_segment": "RFM segment",
    },
    "zh": {
        "gain_per_1000_listed": "每列入 1,000 人的增益",
        "median_shortfall_of_warned": "差额中位数（预警会员）",
        "join_year": "入会年份",
        "tenure_days": "会龄（天）",
        "n": "人数",
        "p": "p",
        "p_value": "p值",
        "p_holm": "p值（Holm校正）",
        "se": "标准误",
        "std_error": "标准误",
        "ci_low": "区间下限",
        "ci_high": "区间上限",
        "lower": "区间下限",
        "upper": "区间上限",
        "estimate": "估计值",
        "n_control": "对照组人数",
        "n_treated": "实验组人数",
        "control_mean": "对照组均值",
        "treated_mean": "实验组均值",
        "member_id": "会员",
        "members": "会员数",
        "member": "会员",
        "tier": "会员等级",
        "arm": "组别",
        "campaign": "活动",
        "campaign_id": "活动",
        "channel": "渠道",
        "gift": "礼品",
        "segment": "分群",
        "month": "月份",
        "wave": "活动波次",
        "spend": "消费额",
        "purchases": "消费笔数",
        "visits": "到访次数",
        "avg_ticket": "客单价",
        "age_band": "年龄段",
        "gender": "性别",
        "count": "数量",
        "share": "占比",
        "rate": "比率",
        "cost": "成本",
        "effect": "效应",
        "return_rate": "回店率",
        "purchase_rate": "消费率",
        "incremental_return_rate": "增量回店率",
        "holdout_return_rate": "对照组回店率",
        "cost_per_incremental_return": "每增量回店成本",
        "cost_per_contacted": "每触达成本",
        "cost_per_returned": "每回店成本",
        "spend_on_return": "回店消费额",
        "spend_per_returner": "每回店会员消费",
        "spend_per_contacted": "每触达会员消费",
        "contacted": "触达人数",
        "returned": "回店人数",
        "incremental_returned": "增量回店人数",
        "incremental_spend": "增量消费",
        "holdout_mae": "验证期误差（人均绝对误差）",
        "predicted_total": "验证期预测消费次数",
        "actual_total": "验证期实际消费次数",
        "log_likelihood_per_member": "人均对数似然（校准期）",
        "identified": "可识别",
        "model": "模型",
        "net_per_contacted": "人均净增量价值",
        "ci_low_unadjusted": "区间下限（未校正）",
        "ci_high_unadjusted": "区间上限（未校正）",
        "total": "合计",
        "total_ci_low": "合计区间下限",
        "total_ci_high": "合计区间上限",
        "list_date": "名单日期",
        "naive_list": "初始名单",
        "refined_list": "精确名单",
        "invalid_sleepers": "并未沉睡",
        "invalid_share": "并未沉睡占比",
        "naive_overstates_by": "初始名单高估",
        "sleeping_days": "沉睡天数阈值",
        "removed": "剔除人数",
        "removed_alone": "仅此规则剔除",
        "share_of_naive": "占初始名单比例",
        "remaining": "剩余人数",
        "step": "步骤",
        "rule": "规则",
        "member_share": "会员占比",
        "spend_share": "消费占比",
        "spend_per_member": "人均消费",
        "downgrade_warnings": "降级预警",
        "upgrade_candidates": "升级候选",
        "median_shortfall": "差额中位数",
        "recency_days": "最近消费距今（天）",
        "frequency": "消费频次",
        "monetary": "消费金额",
        "days": "天数",
        "hazard_ratio": "风险比",
        "rho_with_time": "与时间的相关",
        "test_statistic": "卡方统计量",
        "covariate": "协变量",
        "value": "数值",
        "verdict": "结论",
        "claim": "论断",
        "measure": "指标",
        "status": "状态",
        "level": "水平",
        "time": "时间",
        "from": "从",
        "to": "到",
        "from_segment": "原分群",
        "to_segment": "新分群",
        "share_of_from": "占原分群比例",
        "cluster": "聚类",
        "score": "得分",
        "risk": "风险",
        "lift": "提升",
        "table": "表",
        "column": "列",
        "file": "文件",
        "rows": "行数",
        "missing": "缺失",
        "missing_share": "缺失占比",
        "broken_rules": "违反规则",
        "first": "最早",
        "last": "最晚",
        "mean": "均值",
        "median_days_to_sleep": "沉睡天数中位数",
        "list_size": "名单人数",
        "baseline_rate": "基线比率",
        "identifying": "身份标识",
        "reached": "触达成功",
        "purchased": "消费人数",
        "redeemed": "兑换礼品人数",
        "return_on_spend": "投入产出比",
        "plan": "计划",
        "chi2": "卡方",
        "comparison": "比较",
        "unadjusted": "未调整",
        "covariates": "协变量",
        "dropped": "剔除的协变量",
        "variable": "变量",
        "advice": "建议",
        "weeks": "周数",
        "actual": "实际值",
        "counterfactual": "反事实",
        "extra_reactivations": "额外唤醒人数",
        "weeks_above_band": "高于区间的周数",
        "treated": "实验组",
        "mean_recency_days": "平均最近消费天数（天）",
        "mean_frequency": "平均消费频次",
        "mean_monetary": "平均消费金额",
        "active": "活跃",
        "silhouette": "轮廓系数",
        "bic": "BIC",
        "rules": "规则",
        "group": "组",
        "now": "当前",
        "steady state": "稳态",
        "cooling": "降温",
        "sleeping": "沉睡",
        "lost": "流失",
        "new": "新会员",
        "reactivated": "重新活跃",
        "alpha": "alpha",
        "mean_clv": "平均 CLV",
        "median_clv": "CLV 中位数",
        "p75_clv": "CLV 第 75 百分位",
        "bin": "分组",
        "predicted": "预测值",
        "error": "误差",
        "holdout": "对照组",
        "members_share": "会员占比",
        "upgrade_candidate": "升级候选",
        "downgrade_warning": "降级预警",
        "shortfall": "差额",
        "to_contact": "待触达",
        "reason": "原因",
        "label": "标签",
        "subgroup": "子群",
        "share_of_group": "占组比例",
        "age": "年龄",
        "clv": "CLV",
        "p_alive": "P(存活)",
        "expected_purchases": "预期消费次数",
        "expected_spend": "预期单次消费",
        "odds_ratio_per_sd": "每标准差优势比",
        "feature": "特征",
        "decile": "十分位",
        "observed": "观测值",
        "cohort": "同期群",
        "auc": "AUC",
        "exercise": "练习",
        "message": "说明",
        "buyers": "消费会员数",
        "visitors": "到访会员数",
        "recency_band": "最近消费分段",
        "rfm_segment": "RFM 分群",
        "log_frequency": "对数消费频次",
        "log_avg_ticket": "对数客单价",
        "log_recency": "对数最近消费天数",
        "log_monetary": "对数消费金额",
        "log_tenure": "对数会龄",
        "visit_share": "到访占比",
        "log_early_spend": "对数早期消费",
        "outcome": "结果指标",
        "chosen": "入选",
        "expected_incremental_returns": "预期增量回店",
        "expected_incremental_margin": "预期增量毛利",
        "share_of_list": "占名单比例",
        "asleep": "已沉睡",
        "category": "品类",
        "return-rate difference": "回店率差",
        "ts": "时间",
        "amount": "金额",
        "txn_id": "交易",
        "store_id": "店铺",
        "is_return": "退货",
        "r_score": "R 得分",
        "f_score": "F 得分",
        "m_score": "M 得分",
        "duration": "时长（天）",
        "event": "事件",
    },
}

_ZH_FALLBACK_WORDS = {"share": "占比", "rate": "比率", "mean": "均值", "median": "中位数", "spend": "消费", "members": "会员"}

_TOKENS = re.compile(r"[a-z]+|\d+")
_P_NAMES = {"p_value", "pvalue", "p_holm", "p_adj", "p_raw", "logrank_p", "p_value_holm"}
_PERCENT_WORDS = {"rate", "share", "pct", "percent", "proportion", "probability", "prob", "shares"}
_MONEY_WORDS = {"spend", "revenue", "cost", "margin", "amount", "monetary", "aov", "ticket", "clv", "sales", "price", "spent"}
KINDS = ("count", "percent", "change", "points", "money", "p", "number", "date", "bool", "text")


@dataclass
class Settings:
    """How the tables of this kernel's report are written."""

    lang: str = "en"
    currency: str = ""
    names: dict[str, str] = field(default_factory=dict)
    tiers: tuple[str, ...] = ()  # the tier levels, lowest first (figures colour and order tiers by them)


_settings = Settings(names=dict(DEFAULT_NAMES["en"]))


def settings() -> Settings:
    return _settings


def configure(
    data_dir: str | Path | None = None, lang: str = "en", currency: str | None = None, names: dict | None = None
) -> Settings:
    """Set this report's language, currency and display names.

    From the data folder's ``mallwake.yaml`` when given: ``currency`` (e.g. ``"¥"``) and
    ``display_names`` (``{raw label: name}`` or ``{raw label: {en: name, zh: name}}``) for tiers,
    arms, channels, gifts and segments; the arguments win.
    """
    lang = str(lang or "en").lower()
    if lang not in LANGUAGES:
        raise ValueError(f"language {lang!r} is not supported; one of {', '.join(LANGUAGES)}")
    declared: dict = {}
    if data_dir is not None:
        from analysis.data.params import load_data_params

        declared = load_data_params(data_dir)
    table = name_table(lang, declared)
    table.update({str(k): str(v) for k, v in (names or {}).items()})
    cur = currency if currency is not None else str(declared.get("currency") or "")
    from analysis.data.params import resolve_tiers

    _settings.lang, _settings.currency, _settings.names = lang, cur, table
    _settings.tiers = resolve_tiers(data_dir) if data_dir is not None else _settings.tiers
    if language(lang).cjk:  # figures in Chinese need the Chinese font
        from analysis.presentation.plots import use_language

        use_language(lang)
    return _settings


def name_table(lang: str, declared: dict | None = None) -> dict[str, str]:
    """The display names in ``lang``: the defaults, then the data folder's ``display_names``
    (``declared``: its ``mallwake.yaml``)."""
    table = dict(DEFAULT_NAMES[lang])
    for raw, shown in ((declared or {}).get("display_names") or {}).items():
        if isinstance(shown, dict):
            shown = shown.get(lang) or shown.get("en")
        if shown:
            table[str(raw)] = str(shown)
    return table


def display_name(raw: Any, names: dict[str, str] | None = None) -> str:
    """The display name of a data label (a tier, arm, channel, gift), else the label itself; a
    composite label ``campaign / arm`` has each part named. ``names``: a :func:`name_table`
    (default: the report's)."""
    text = str(raw)
    table = _settings.names if names is None else names
    if text in table:
        return table[text]
    for sep in (" / ", " + "):  # a campaign / arm; rules a member broke together
        if sep in text:
            return sep.join(display_name(part, table) for part in text.split(sep))
    return text


def label(name: Any) -> str:
    """The human label of a column name in the report's language."""
    if not isinstance(name, str):
        return str(name)
    lang = _settings.lang
    if name in _settings.names:
        return _settings.names[name]
    if name in LABELS.get(lang, {}):
        return LABELS[lang][name]
    if lang == "zh" and name.startswith("share_"):  # share of spend in a store category
        return display_name(name[len("share_") :]) + "占比"
    if lang != "en" and re.fullmatch(r"[a-z0-9_]+", name):
        words = [_ZH_FALLBACK_WORDS.get(w) for w in name.split("_")]
        if all(words):
            return "".join(words)
    if name in LABELS["en"]:
        return LABELS["en"][name]
    if re.fullmatch(r"[a-z][a-z0-9]*(_[a-z0-9]+)*", name) and lang == "en":  # an identifier: words, capitalised
        text = name.replace("_", " ")
        return text[0].upper() + text[1:]
    return name


def infer_kind(name: Any, values: pd.Series) -> str:
    """The kind of a column from its name and values (see the module's docstring)."""
    dtype = values.dtype
    if pd.api.types.is_bool_dtype(dtype):
        return "bool"
    if pd.api.types.is_datetime64_any_dtype(dtype):
        return "date"
    if not pd.api.types.is_numeric_dtype(dtype):
        numbers = pd.to_numeric(values.map(lambda v: v if isinstance(v, (int, float, np.number)) else None), errors="coerce")
        if (
            numbers.notna().any()
            and values.map(
                lambda v: isinstance(v, (int, float, np.number)) or pd.isna(v) or (isinstance(v, str) and v.startswith("<"))
            ).all()
        ):
            return infer_kind(name, numbers)  # numbers with suppressed cells ("<10") among them
        return "text"
    key = str(name).lower() if not isinstance(name, tuple) else str(name[-1]).lower()
    words = set(_TOKENS.findall(key))
    finite = pd.to_numeric(values, errors="coerce").dropna()
    finite = finite[np.isfinite(finite.astype(float))]
    if key in _P_NAMES or key.endswith("_p") or key.startswith("p_"):
        return "p"
    if words & _PERCENT_WORDS and (finite.empty or finite.abs().max() <= 1.5):
        return "percent"
    if words & _MONEY_WORDS and not key.startswith("return_on") and not (words & {"n", "count"}):
        return "money"
    if pd.api.types.is_integer_dtype(dtype):
        return "count"
    if (
        not finite.empty
        and np.allclose(finite, np.round(finite))
        and finite.abs().max() < 1e15
        and len(finite) > 0
        and (finite.abs() >= 1).any()
    ):
        return "count"
    return "number"


def _decimals(magnitude: float) -> int:
    if magnitude >= 100:
        return 0 if magnitude >= 1000 else 1
    if magnitude >= 1:
        return 2
    return 3


def format_value(
    value: Any, kind: str, decimals: int | None = None, sign: bool = False, lang: str | None = None, currency: str | None = None
) -> str:
    """``value`` written as ``kind``; missing is ``–``. ``decimals`` fixes the number of decimals
    of a number (default: three significant digits, at most four decimals); ``sign`` writes a
    ``+`` before a positive amount of money (a difference). ``lang`` and ``currency``: those of
    the report being written unless given (the index writes every run's figures in its language)."""
    if kind not in KINDS:
        raise ValueError(f"unknown kind {kind!r}; one of {', '.join(KINDS)}")
    if value is None or value is pd.NaT:
        return MISSING
    try:
        if pd.isna(value):
            return MISSING
    except (TypeError, ValueError):
        pass
    zh = (lang or _settings.lang) == "zh"
    currency = _settings.currency if currency is None else currency
    if isinstance(value, str) and kind not in ("text", "date"):
        return value  # a suppressed cell ("<10") or a note in a numeric column
    if kind == "text":
        return display_name(value)
    if kind == "bool":
        return ("是" if value else "否") if zh else ("yes" if value else "no")
    if kind == "date":
        ts = pd.Timestamp(value)
        return ts.strftime("%Y-%m-%d") if ts == ts.normalize() else ts.strftime("%Y-%m-%d %H:%M")
    v = float(value)
    if math.isinf(v):
        return "∞" if v > 0 else "-∞"
    if kind == "count":
        return f"{int(round(v)):,}"
    if kind == "percent":
        return f"{v:.2%}" if 0 < abs(v) < 0.01 else f"{v:.1%}"
    if kind == "change":  # a relative change: +3.4%
        return f"{v:+.1%}"
    if kind == "points":
        return f"{v * 100:+.1f} 个百分点" if zh else f"{v * 100:+.1f} points"
    if kind == "p":
        return "< 0.001" if v < 0.001 else f"{v:.3f}"
    if kind == "money":
        body = f"{abs(v):,.0f}" if abs(v) >= 1000 else f"{abs(v):,.2f}"
        return f"{'-' if v < 0 else '+' if sign and v > 0 else ''}{currency}{body}"
    # number: three significant digits, at most four decimals; never scientific notation
    places = decimals if decimals is not None else (4 if 0 < abs(v) < 0.001 else _decimals(abs(v)))
    text = f"{v:,.{places}f}"
    if text.strip("-0.,") == "" and v != 0:
        return "≈ 0"
    return text


#: Categorical variables whose model terms are written ``<variable>_<level>`` (one-hot columns).
_CATEGORICAL = ("tier", "age_band", "join_year", "gender", "channel", "gift", "segment", "stage")


def covariate_label(name: Any) -> str:
    """A model term in words: ``tier_normal`` -> "Tier: Normal" (普卡 in Chinese), ``log_early_spend``
    -> its label; a column name otherwise."""
    text = str(name)
    for var in _CATEGORICAL:
        if text.startswith(var + "_") and len(text) > len(var) + 1:
            sep = "：" if _settings.lang == "zh" else ": "
            return label(var) + sep + display_name(text[len(var) + 1 :])
    return label(text)


def column_decimals(values: pd.Series) -> int:
    """Decimals for a number column: enough for three significant digits of its typical value."""
    finite = pd.to_numeric(values, errors="coerce").dropna().abs()
    finite = finite[np.isfinite(finite) & (finite > 0)]
    if finite.empty:
        return 2
    return min(_decimals(float(finite.median())), 4) if finite.median() >= 0.001 else 4
