# %% tags=["parameters"]
data_dir: str = "../../data/demo"  # directory in the data contract
as_of: str = ""  # analysis date; empty: the last date in the data
report_month: str = ""  # YYYY-MM; empty: the last complete month before the analysis date
lang: str = "en"  # en or zh
control_arm: str = "holdout"  # the no-contact arm of campaigns
cooling_days: int = 90  # lifecycle stage thresholds (see the lifecycle report)
sleeping_days: int = 180
lost_days: int = 365
warn_days: int = 30  # "about to sleep": asleep within this many days without a purchase
tier_thresholds: str = ""  # yearly spend to hold each tier, e.g. silver:3000,gold:8000 (empty: no downgrade warnings)
currency: str = "¥"
min_cell: int = 10  # counts below this are shown as "<10"
output_dir: str = ""  # figures are also saved here as PNG (set by the runner); empty: not saved
export_dir: str = ""  # where the watch list with member ids goes (the runner: exports/<month>/, outside the site); empty: not written
settings_applied: bool = False  # mallwake run sets it: the data folder's mallwake.yaml is then already applied

# %% tags=["hide", "setup"]
# %matplotlib inline
import matplotlib.pyplot as plt
import seaborn as sns
from IPython.display import display, Markdown
import numpy as np
import pandas as pd
sns.set_theme(style="whitegrid", context="notebook")

from pathlib import Path
from analysis.application import monthly as mo
from analysis.presentation import plots
from analysis.application.notebook import start
from analysis.application import exports
from analysis.data.privacy import suppress_small_counts
from analysis.presentation.report import record_metrics
from analysis.data.config import RFM_WINDOW_DAYS
from analysis.statistics.segmentation import parse_thresholds
from analysis.presentation.present import present
data = start(data_dir, as_of, lang, currency, namespace=globals())  # escaped tables; language, currency and names; the data
month = mo.parse_month(report_month or mo.last_complete_month(data))
figure_lang = plots.use_language(lang)
T = lambda key, **kw: mo.text(key, lang, **kw)
F = lambda key, **kw: mo.text(key, figure_lang, **kw)
fig_dir = str(Path(output_dir) / "figures") if output_dir else ""

# %%
panel = mo.stage_panel(data, month, cooling_days, sleeping_days, lost_days)
kpis = mo.compute_monthly_kpis(data, month - pd.DateOffset(months=12), month, cooling_days, sleeping_days, lost_days, panel=panel)
comparison = mo.compare_month(kpis, month)
watch_people = mo.watch_members(data, month, parse_thresholds(tier_thresholds), sleeping_days, warn_days, cooling_days, lost_days,
                                panel=panel)
watch = mo.compute_watch_list(data, month, parse_thresholds(tier_thresholds), members=watch_people)
month_campaigns = mo.summarize_month_campaigns(data, month, control_arm)
display(Markdown(f"# {T('title', month=mo.month_label(month, lang))}"))
display(Markdown("\n\n".join(mo.write_narrative(comparison, watch, month_campaigns, lang, currency, warn_days))))

# %%
display(Markdown(f"## {T('kpi_heading')}"))
shown = comparison.table_all.rename(index=lambda k: T(k))[["value", "previous", "change_pct", "last_year", "yoy_pct"]]
shown.index.name = T("kpi")
shown.columns = [T("value"), T("previous"), T("mom"), T("last_year"), T("yoy")]
present(shown, kinds={T("value"): "count", T("previous"): "count", T("last_year"): "count", T("mom"): "change", T("yoy"): "change"})

# %%
display(Markdown(f"### {T('trend_title')}"))
axes = plots.plot_kpi_trends(kpis, {k: F(k) for k in mo.KPIS}, month=month)
plots.save_figure(axes[0].figure, fig_dir, f"{month:%Y-%m}-trends");

# %%
display(Markdown(f"## {T('by_tier_heading')}"))
tier_table = comparison.by_tier[list(mo.KPIS)].rename(columns=lambda k: T(k)).rename_axis(T("tier"))
display(present(suppress_small_counts(tier_table.astype({T(k): "int64" for k in mo.KPIS if k not in ("spend", "avg_ticket")}), min_cell),
                kinds=dict.fromkeys(tier_table.columns, "count")))
axes = plots.plot_tier_kpis(comparison.by_tier, {k: F(k) for k in mo.KPIS})
plots.save_figure(axes[0].figure, fig_dir, f"{month:%Y-%m}-tiers");

# %%
display(Markdown(f"## {T('stages_title')}"))
transitions = mo.compute_stage_transitions(data, month, cooling_days, sleeping_days, lost_days, panel=panel)
present(mo.localize(suppress_small_counts(transitions, min_cell), lang, stages_first=True))

# %%
segment_counts, migration = mo.compute_segment_movement(data, month)
display(Markdown(f"## {T('segments_title')}"))
display(Markdown(T('rfm_window', days=RFM_WINDOW_DAYS)))
display(present(mo.localize(suppress_small_counts(segment_counts.set_index("segment"), min_cell, derived={"change": ("previous", "now")}),
                           lang)))
flows = migration.flows(min_cell).head(8)
present(mo.localize(flows, lang), kinds={T("share_of_from"): "percent"})

# %%
display(Markdown(f"## {T('campaigns_title')}"))
if len(month_campaigns):
    table = month_campaigns.copy()
    table["contacted"] = suppress_small_counts(table[["contacted"]], min_cell)["contacted"]
    display(present(mo.localize(table, lang), kinds={T("return_rate"): "percent", T("incremental_return_rate"): "points",
                                                     T("ci_low"): "points", T("ci_high"): "points",
                                                     T("cost_per_incremental_return"): "money", T("cost"): "money"}))
else:
    display(Markdown(T("no_campaign")))

# %%
display(Markdown(f"## {T('watch_title')}"))
w = watch.set_index("tier").rename(columns={"about_to_sleep": T("about_to_sleep", days=warn_days), "downgrade_warning": T("downgrade_warning")})
display(present(suppress_small_counts(w, min_cell).rename_axis(T("tier"))))
exported = exports.write_list(exports.monthly_watch_list(data, *watch_people, month), export_dir, f"watch_list_{month:%Y-%m}")
kpi_files = mo.write_kpi_tables(comparison, output_dir)
if exported:
    display(Markdown(T("watch_export", rows=exported.rows, files=" / ".join(f"`{p.name}`" for p in exported.files))))

# %% tags=["hide"]
record_metrics(title=T("title", month=mo.month_label(month, lang)), lang=lang, **mo.month_metrics(comparison, watch, month_campaigns))
