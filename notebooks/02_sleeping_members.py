# %% [markdown]
# # Who is really asleep
#
# Trilogy step 1. A sleeping list built only from "no purchase for N days" holds members who are not
# asleep at all (their car is in the parking records, they come without swiping the card) and members
# the campaign cannot reach. This report builds the **naive list**, removes those **invalid sleepers**
# rule by rule, and shows what the naive list does to a campaign's return rate.

# %% tags=["parameters"]
data_dir: str = "../data/demo"  # directory in the data contract
as_of: str = ""  # analysis date; empty: the last date in the data
list_date: str = ""  # day the sleeping list is drawn; empty: the day before naive_campaign, else the analysis date
target_tier: str = "all"  # tier to wake up ("all": every tier)
sleeping_days: int = 180  # days without purchase to count as sleeping
lookback_days: int = 90  # a visit in this window shows the member still comes
channel: str = "call_wechat"  # sms, call, wechat or call_wechat: who is reachable
naive_campaign: str = ""  # a campaign sent to a naive list (empty: none)
export_dir: str = ""  # where the contact list goes (the runner: exports/<label>/, outside the report site); empty: not written
min_cell: int = 10  # smallest group shown in tables
lang: str = "en"  # language of the report: en or zh
settings_applied: bool = False  # mallwake run sets it: the data folder's mallwake.yaml is then already applied

# %% tags=["hide", "setup"]
# %matplotlib inline
import matplotlib.pyplot as plt
import seaborn as sns
from IPython.display import display, Markdown
import numpy as np
import pandas as pd
sns.set_theme(style="whitegrid", context="notebook")

from analysis.statistics import campaigns, sleeping

from analysis.application import exports

from analysis.presentation import plots
from analysis.application.notebook import start
from analysis.data.privacy import suppress_small_cells
from analysis.presentation.report import headline, record_metrics
from analysis.presentation.report import first_steps
from analysis.presentation.i18n import N_, tr
from analysis.presentation.formats import display_name
from analysis.presentation.present import present
from analysis.presentation.phrases import funnel_words, phrase_text
data = start(data_dir, as_of, lang, namespace=globals())  # escaped tables; language, currency and names of the data folder; the data
sl = sleeping.build_sleeping_list(data, sleeping.default_list_date(data, list_date, naive_campaign), tier=target_tier, sleeping_days=sleeping_days,
                                  lookback_days=lookback_days, channel=channel)

# %% [markdown]
# ## The naive list and the refined list

# %%
if sl.testable:
    display(Markdown(tr(
        "On **{date}**, **{naive:,}** {tier} members had not bought for at least {days} days (the naive list). After removing "
        "invalid sleepers, **{refined:,}** remain: **{invalid:.1%}** of the naive list is not really asleep or cannot be reached "
        "by {channel}, and the naive list overstates the sleeping population by **{over:.1%}**.",
        date=sl.list_date, naive=sl.naive_size, tier=display_name(target_tier), days=sleeping_days, refined=sl.refined_size,
        invalid=sl.invalid_share, channel=display_name(channel), over=sl.overstatement)))
else:
    display(Markdown(tr("On **{date}**, **{naive:,}** {tier} members had not bought for at least {days} days (the naive list).",
                        date=sl.list_date, naive=sl.naive_size, tier=display_name(target_tier), days=sleeping_days)))
if sleeping.unavailable_phrase(sl):
    display(Markdown(phrase_text(sleeping.unavailable_phrase(sl))))
for note in sl.notes:
    display(Markdown("*" + tr("Note: {note}.", note=phrase_text(note)) + "*"))
sl

# %% [markdown]
# ## The funnel
#
# Members left after each rule, applied in order (a member removed by an earlier rule is not counted
# again). **Removed by this rule alone** is how many members each rule would remove on its own.

# %%
funnel = funnel_words(sl.funnel())
plots.plot_funnel(funnel);

# %%
funnel

# %% [markdown]
# ## The list to contact
#
# Every member of the naive list, with `to_contact` (on the refined list), the reason, the days
# since the last purchase, the tier and how each can be reached, for the wake-up team.

# %%
contact_list = exports.sleeping_contact_list(data, sl)
exported = exports.write_list(contact_list, export_dir, "sleeping_list")
display(Markdown(tr("**{n:,}** members to contact of {total:,} on the naive list.", n=int(contact_list["to_contact"].sum()),
                    total=len(contact_list)) + " "
                 + (exported.sentence() if exported else tr("No file written (no export folder: run it through `mallwake run`)."))))

# %% [markdown]
# ## Overlaps
#
# Invalid sleepers often fail several rules at once; combinations of too few members to show are written as a bound (such as “<10”), never as a count.

# %%
suppress_small_cells(sl.overlaps(), "members", min_cell)

# %% [markdown]
# ## What the naive list does to a campaign's return rate
#
# The campaign below was sent to a naive list. Members who still come "return" whether or not they
# were contacted, so they inflate the return rate of every arm, including the holdout; unreachable
# members cannot respond and deflate it. Only the refined-list rows measure what waking up sleeping
# members achieves.

# %%
if naive_campaign and naive_campaign in set(data.campaigns.campaign_id.to_pandas()):
    outcomes = campaigns.compute_campaign_outcomes(data, [naive_campaign])
    start = data.campaigns.filter(data.campaigns.campaign_id == naive_campaign).start_date.to_pandas().iloc[0]
    at_start = sleeping.build_sleeping_list(data, start - pd.Timedelta(days=1), tier=target_tier, sleeping_days=sleeping_days,
                                            lookback_days=lookback_days, channel=channel)
    distortion = sleeping.compare_list_return_rates(outcomes, at_start, naive_campaign)
    display(present(suppress_small_cells(distortion, "contacted", min_cell)))
else:
    distortion = None
    display(Markdown(tr("No campaign sent to a naive list was named (`naive_campaign`).")))

# %% tags=["hide"]
record_metrics(
    list_date=str(sl.list_date), naive_list=sl.naive_size, refined_list=sl.refined_size,
    invalid_share=sl.invalid_share if sl.testable else None, naive_overstates_by=sl.overstatement if sl.testable else None,
    refinements_not_applied=list(sl.unavailable),
    removed_by_rule=sl.removed_by_rule(),
    headline=headline(((N_("naive sleeping list on {date}"), {"date": sl.list_date}), sl.naive_size, "count"),
                      (N_("refined list (to contact)"), sl.refined_size, "count"),
                      (N_("not really asleep or unreachable"), sl.invalid_share if sl.testable else None, "percent")),
)

# %% tags=["first"]
if sl.naive_size == 0:
    first_steps(tr("On {date} no {tier} member had gone {days} days without a purchase: there is no one to wake up.",
                   date=sl.list_date, tier=display_name(target_tier), days=sleeping_days))
elif sl.testable:
    first_steps(
        tr("Contact the **{refined:,}** members of the refined list, not the {naive:,} of the naive list: {invalid:.1%} of the "
           "naive list still come to the mall or cannot be reached.", refined=sl.refined_size, naive=sl.naive_size,
           invalid=sl.invalid_share),
        exported.sentence() if exported else "")
else:
    first_steps(
        tr("These data cannot tell who on the naive list is really asleep, so the list to contact is the naive one "
           "(**{naive:,}** members); record visits, reachability or opt-outs to refine the next one.", naive=sl.naive_size),
        exported.sentence() if exported else "")
