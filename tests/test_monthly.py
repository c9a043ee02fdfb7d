"""Monthly member report: KPIs against an independent computation, changes, backfill, language."""

import json

import nbformat
import numpy as np
import pandas as pd
import pytest

from analysis.application import monthly as mo
from analysis.application.cli import main
from analysis.data.dataset import load_dataset


def _read(d, name):
    for ext, reader in ((".parquet", pd.read_parquet), (".csv", pd.read_csv)):
        if (d / f"{name}{ext}").exists():
            return reader(d / f"{name}{ext}")
    raise FileNotFoundError(name)


def _independent_kpis(d, month: str, sleeping_days=180, lost_days=365) -> pd.DataFrame:
    """The KPIs straight from the raw files with pandas, one member at a time (no shared code)."""
    members = _read(d, "members")
    members["join_date"] = pd.to_datetime(members["join_date"])
    tx = _read(d, "transactions")
    tx["ts"] = pd.to_datetime(tx["ts"])
    visits = _read(d, "visits")
    visits["ts"] = pd.to_datetime(visits["ts"])
    start = pd.Timestamp(month + "-01")
    end = start + pd.offsets.MonthEnd(0)
    prev_end = start - pd.Timedelta(days=1)

    def days_since(at):
        last = tx[tx["ts"].dt.normalize() <= at].groupby("member_id")["ts"].max().dt.normalize()
        since = members.set_index("member_id")["join_date"]
        ref = last.reindex(since.index).fillna(since)
        return (at - ref).dt.days

    now, before = days_since(end), days_since(prev_end)
    joined = members.set_index("member_id")["join_date"]
    existed_before = joined <= prev_end
    in_month = tx[(tx["ts"] >= start) & (tx["ts"] < end + pd.Timedelta(days=1))]
    bought = set(in_month["member_id"])
    is_new = (joined >= start) & (joined <= end)
    prev_sleep_or_lost = existed_before & (before >= sleeping_days)
    woken = pd.Series([m in bought for m in joined.index], index=joined.index) & prev_sleep_or_lost & ~is_new
    sleeping = (joined <= end) & ~is_new & ~woken & (now >= sleeping_days) & (now < lost_days)
    lost_now = (joined <= end) & ~is_new & ~woken & (now >= lost_days)
    lost_before = existed_before & (before >= lost_days)
    became_lost = lost_now & ~lost_before
    tiers = members.set_index("member_id")["tier"]
    vis = visits[(visits["ts"] >= start) & (visits["ts"] < end + pd.Timedelta(days=1))]
    rows = []
    for tier in ["all", *sorted(tiers.unique())]:
        sel = tiers.index if tier == "all" else tiers.index[tiers == tier]
        t_in = in_month[in_month["member_id"].isin(sel)]
        rows.append(
            {
                "tier": tier,
                "members": int((joined[sel] <= end).sum()),
                "new": int(is_new[sel].sum()),
                "active": int(t_in["member_id"].nunique()),
                "sleeping": int(sleeping[sel].sum()),
                "woken": int(woken[sel].sum()),
                "lost": int(became_lost[sel].sum()),
                "spend": round(float(t_in["amount"].sum()), 2),
                "purchases": len(t_in),
                "visits": int(vis["member_id"].isin(sel).sum()),
            }
        )
    return pd.DataFrame(rows).set_index("tier")


@pytest.mark.parametrize("month", ["2024-03", "2024-11"])
def test_kpis_equal_an_independent_computation(small_mall, month):
    data = load_dataset(small_mall)
    kpis = mo.compute_monthly_kpis(data, month, month).set_index("tier")
    expected = _independent_kpis(small_mall, month)
    for tier in expected.index:
        for k in expected.columns:
            assert kpis.loc[tier, k] == pytest.approx(expected.loc[tier, k], abs=0.01), (month, tier, k)
    assert kpis.loc["all", "avg_ticket"] == pytest.approx(
        expected.loc["all", "spend"] / expected.loc["all", "purchases"], abs=0.01
    )
    assert kpis.loc["all", "active"] > 0 and kpis.loc["all", "sleeping"] > 0  # the case is not vacuous


def test_panel_reuse_gives_the_same_figures(small_mall):
    data = load_dataset(small_mall)
    panel = mo.stage_panel(data, "2024-06")
    a = mo.compute_monthly_kpis(data, "2024-01", "2024-06")
    b = mo.compute_monthly_kpis(data, "2024-01", "2024-06", panel=panel)
    pd.testing.assert_frame_equal(a, b)
    pd.testing.assert_frame_equal(
        mo.compute_stage_transitions(data, "2024-06"), mo.compute_stage_transitions(data, "2024-06", panel=panel)
    )


def test_compare_month_by_hand():
    months = pd.to_datetime(["2023-11-01", "2024-10-01", "2024-11-01"])
    kpis = pd.DataFrame({"month": months, "tier": "all"} | {k: [0.0] * 3 for k in mo.KPIS})
    kpis["active"] = [80, 100, 120]
    kpis["spend"] = [0, 1000, 900]
    c = mo.compare_month(kpis, "2024-11")
    assert c.table_all.loc["active", "change"] == 20
    assert c.table_all.loc["active", "change_pct"] == pytest.approx(0.20)
    assert c.table_all.loc["active", "yoy_pct"] == pytest.approx(0.50)
    assert c.table_all.loc["spend", "change_pct"] == pytest.approx(-0.10)
    assert np.isnan(c.table_all.loc["spend", "yoy_pct"])  # nothing a year earlier: no ratio, not infinity


def test_month_parsing():
    assert mo.parse_month_range("2024-11..2025-02") == ["2024-11", "2024-12", "2025-01", "2025-02"]
    assert mo.parse_month_range("2024-05") == ["2024-05"]
    with pytest.raises(ValueError, match="ends before"):
        mo.parse_month_range("2024-05..2024-01")
    with pytest.raises(ValueError, match="not a month"):
        mo.parse_month("Nov 2024")


def test_narrative_states_the_table_figures(small_mall):
    data = load_dataset(small_mall)
    month = "2024-09"
    kpis = mo.compute_monthly_kpis(data, "2023-09", month)
    c = mo.compare_month(kpis, month)
    watch = mo.compute_watch_list(data, month, {"silver": 3000, "gold": 8000, "platinum": 40000})
    camp = mo.summarize_month_campaigns(data, month)
    assert len(camp), "the synthetic mall runs its optimised wave in September 2024"
    for lang in ("en", "zh"):
        text = " ".join(mo.write_narrative(c, watch, camp, lang))
        assert f"{int(c.value('active')):,}" in text and f"{c.table_all.loc['active', 'change_pct']:+.1%}" in text
        assert f"{int(watch.set_index('tier').loc['all', 'about_to_sleep']):,}" in text
        for _, row in camp[camp["incremental_return_rate"].notna()].iterrows():
            # a difference of rates, in points (the month-on-month change of a count stays a relative change, %)
            unit = "个百分点" if lang == "zh" else "points"
            assert f"{row['incremental_return_rate'] * 100:+.1f} {unit}" in text and f"{row['ci_low'] * 100:+.1f} {unit}" in text
    assert "会员" in " ".join(mo.write_narrative(c, watch, camp, "zh"))


def test_watch_list_counts_match_the_panel(small_mall):
    data = load_dataset(small_mall)
    w = mo.compute_watch_list(data, "2024-06", {"silver": 3000, "gold": 8000, "platinum": 40000}, sleeping_days=180, warn_days=30)
    # about to sleep = 150..179 days since the last purchase (or joining) at 2024-06-30, by hand
    expected = _independent_days_since(small_mall, pd.Timestamp("2024-06-30")).between(150, 179).sum()
    assert w.set_index("tier").loc["all", "about_to_sleep"] == expected


def _independent_days_since(d, at):
    members = _read(d, "members").set_index("member_id")
    tx = _read(d, "transactions")
    tx["ts"] = pd.to_datetime(tx["ts"]).dt.normalize()
    last = tx[tx["ts"] <= at].groupby("member_id")["ts"].max()
    joined = pd.to_datetime(members["join_date"])
    joined = joined[joined <= at]
    return (at - last.reindex(joined.index).fillna(joined)).dt.days


# --- the CLI: one month, backfill, skip, determinism, language -----------------------------------------


@pytest.mark.slow
def test_month_backfill_skip_force_and_determinism(small_mall, tmp_path, capsys):
    out = tmp_path / "reports"
    # a 12-month backfill: every month built and linked from the index
    assert main(["run", "--data", str(small_mall), "--months", "2024-01..2024-12", "--out", str(out), "--jobs", "2"]) == 0
    runs = {m: json.loads((out / f"month-{m}" / "run.json").read_text()) for m in mo.parse_month_range("2024-01..2024-12")}
    assert all(r["status"] == "ok" and r["kind"] == "monthly" for r in runs.values())
    index = (out / "index.html").read_text(encoding="utf-8")
    for m in runs:
        assert f'href="month-{m}/monthly_report.html"' in index
    assert "<svg" in index or "data:image/png" in index  # trend charts
    metrics = json.loads((out / "month-2024-02" / "monthly_report.metrics.json").read_text())
    assert metrics["month"] == "2024-02" and metrics["kpis"]["active"]["value"] > 0
    figures = sorted((out / "month-2024-02" / "figures").glob("*.png"))
    assert figures
    before = {p.name: p.read_bytes() for p in figures}
    # the KPI tables beside the report (aggregates), the watch list by member in the exports folder (raw ids)
    kpis = pd.read_csv(out / "month-2024-02" / "kpis.csv", encoding="utf-8-sig").set_index("kpi")
    assert kpis.loc["active", "value"] == metrics["kpis"]["active"]["value"]
    watch = pd.read_csv(tmp_path / "exports" / "month-2024-02" / "watch_list_2024-02.csv", encoding="utf-8-sig")
    counts = watch.groupby("watch").size()
    assert counts.get("About to sleep", 0) == metrics["watch"]["all"]["about_to_sleep"]
    assert counts.get("Downgrade warning", 0) == metrics["watch"]["all"]["downgrade_warning"]
    assert not list((out / "month-2024-02").rglob("watch_list*"))
    page = (out / "month-2024-02" / "monthly_report.html").read_text(encoding="utf-8")
    assert f"The members behind it ({len(watch):,}" in page
    assert not [i for i in watch["member_id"].astype(str).head(100) if i in page]

    capsys.readouterr()
    assert main(["run", "--data", str(small_mall), "--months", "2024-01..2024-12", "--out", str(out)]) == 0
    assert capsys.readouterr().out.count("is up to date") == 12
    assert json.loads((out / "month-2024-02" / "run.json").read_text())["finished"] == runs["2024-02"]["finished"]

    assert main(["run", "--data", str(small_mall), "--month", "2024-02", "--out", str(out), "--force"]) == 0
    after = {p.name: p.read_bytes() for p in (out / "month-2024-02" / "figures").glob("*.png")}
    assert after == before, "same inputs and parameters: identical figure files"
    assert json.loads((out / "month-2024-02" / "monthly_report.metrics.json").read_text()) == metrics

    # a changed parameter is a different report: not skipped
    capsys.readouterr()
    assert main(["run", "--data", str(small_mall), "--month", "2024-02", "--out", str(out), "-p", "warn_days=14"]) == 0
    assert "is up to date" not in capsys.readouterr().out


@pytest.mark.slow
def test_chinese_report_renders_without_missing_glyphs(small_mall, tmp_path):
    out = tmp_path / "reports"
    assert main(["run", "--data", str(small_mall), "--month", "2024-09", "--lang", "zh", "--out", str(out)]) == 0
    page = (out / "month-2024-09-zh" / "monthly_report.html").read_text(encoding="utf-8")
    assert "会员月报：2024年9月" in page and "环比" in page and "沉睡会员" in page
    nb = nbformat.read(out / "month-2024-09-zh" / "monthly_report.ipynb", as_version=4)
    log = "\n".join(o.get("text", "") for c in nb.cells if c.cell_type == "code" for o in c.outputs if o.get("name") == "stderr")
    assert "missing from" not in log and "Glyph" not in log, log[:500]
    assert "no Chinese font" not in log


def test_month_after_the_analysis_date_is_refused(small_mall, tmp_path, capsys):
    out = tmp_path / "reports"
    assert main(["run", "--data", str(small_mall), "--month", "2031-01", "--out", str(out)]) == 2
    assert "not complete yet" in capsys.readouterr().err
    assert not out.exists() or not any(out.glob("month-*"))


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_a_localized_column_is_named_as_the_notebook_names_its_format(lang):
    """The monthly notebook formats the columns of ``localize``'d tables by ``text(key)`` (the interval
    columns in points, the costs as money): the two must name a column alike, or the format is lost
    (the interval bounds once showed as 0.102 beside "+12.5 points")."""
    keys = ["campaign_id", "arm", "contacted", "return_rate", "incremental_return_rate", "ci_low", "ci_high", "cost"]
    keys += ["cost_per_incremental_return", "window_open", "share_of_from", "from_segment", "to_segment"]
    shown = mo.localize(pd.DataFrame(columns=keys), lang)
    assert list(shown.columns) == [mo.text(k, lang) for k in keys]
