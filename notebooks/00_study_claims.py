# %% [markdown]
# # The study, reproduced: its four claims checked against the data
#
# The dissertation on waking up Shopping Mall A's sleeping gold-card members makes four claims. This
# page checks each one on the data it runs on: the estimate the claim rests on, its 95 % interval
# and a verdict. The campaign and sleeping-member reports hold the full analyses behind each number.

# %% tags=["parameters"]
data_dir: str = "../data/demo"  # directory in the data contract
as_of: str = ""  # analysis date; empty: the last date in the data
target_tier: str = "all"  # tier of the sleeping list ("all": every tier)
list_date: str = ""  # day the naive sleeping list was drawn; empty: the day before naive_campaign, else the analysis date
naive_campaign: str = ""  # a campaign sent to a naive list (claim 1's distortion; empty: none)
sleeping_days: int = 180  # days without purchase to count as sleeping
lookback_days: int = 90  # a visit in this window shows the member still comes
control_arm: str = "holdout"  # the arm that was not contacted
before_campaign: str = ""  # the study's "before" wave (claim 4)
before_arm: str = ""  # its treated arm
after_campaign: str = ""  # the study's "after" wave
after_arm: str = ""  # its treated arm
factorial_campaign: str = ""  # crossed gift x channel wave (claims 2 and 3; empty: arms that differ in one factor)
gift_levels: str = "daily,entertainment"  # reference, alternative
channel_levels: str = "sms,call_wechat"  # reference, alternative
min_effect: float = 0.02  # smallest return-rate effect worth finding (for the members needed)
min_invalid_share: float = 0.05  # claim 1: the naive list is inaccurate when at least this share of it is not really asleep
alpha: float = 0.05
lang: str = "en"  # language of the report: en or zh
settings_applied: bool = False  # mallwake run sets it: the data folder's mallwake.yaml is then already applied

# %% tags=["hide", "setup"]
from IPython.display import display, Markdown, HTML
import pandas as pd

from analysis.statistics import campaigns, claims, sleeping
from analysis.application.notebook import start
from analysis.presentation.claims_text import RULE, RULE_1, claim_sentence, details_html, summary_html
from analysis.presentation.i18n import N_, tr
from analysis.presentation.report import record_metrics
from analysis.presentation.report import first_steps
from analysis.presentation.present import present
data = start(data_dir, as_of, lang, namespace=globals())  # escaped tables; language, currency and names of the data folder; the data
outcomes = campaigns.compute_campaign_outcomes(data) if campaigns.has_contacts(data) else None
gifts = tuple(v.strip() for v in gift_levels.split(","))
channels = tuple(v.strip() for v in channel_levels.split(","))
sl = sleeping.build_sleeping_list(data, sleeping.default_list_date(data, list_date, naive_campaign), tier=target_tier, sleeping_days=sleeping_days,
                                  lookback_days=lookback_days)
found = [
    claims.claim_sleeping_list(sl, outcomes, naive_campaign, control_arm, alpha, min_invalid_share),
    claims.claim_gift(outcomes, factorial_campaign, gifts, channels, control_arm, alpha, min_effect),
    claims.claim_channel(outcomes, factorial_campaign, gifts, channels, control_arm, alpha, min_effect),
    claims.claim_before_after(outcomes, before_campaign, after_campaign, before_arm, after_arm, control_arm, alpha, min_effect),
]

# %%
display(Markdown(tr(RULE) + " " + tr(RULE_1, share=min_invalid_share)))
display(HTML(summary_html(found)))

# %% [markdown]
# ## 1. A sleeping list built from the last purchase alone is inaccurate
#
# The naive list takes every member without a purchase for the sleeping days. Members who still
# come (a parking or Wi-Fi record in the lookback window), cannot be reached, opted out or share a
# phone with another card are not asleep or cannot be woken; counting them overstates the sleeping
# population and, in a campaign, the denominator of its return rate.

# %%
display(Markdown(claim_sentence(found[0])))
if found[0].details is not None:
    display(HTML(details_html(found[0])))

# %% [markdown]
# ## 2. Entertainment gifts beat daily-use gifts of the same value
#
# From the crossed gift x channel wave when there is one (the gift effect averaged over the two
# channels), otherwise from two arms of one campaign that differ only in the gift.

# %%
display(Markdown(claim_sentence(found[1])))
if found[1].details is not None:
    display(present(found[1].details))

# %% [markdown]
# ## 3. Outbound call + WeChat beats SMS, at a lower cost
#
# The channel effect on the return rate, and the cost per incremental returned member (contact
# and redeemed-gift costs over the members brought back beyond the holdout's rate) by channel,
# with bootstrap intervals (members resampled within each arm and the holdout).

# %%
display(Markdown(claim_sentence(found[2])))
if found[2].details is not None:
    display(present(found[2].details, kinds={"ci_low": "money", "ci_high": "money"}))

# %% [markdown]
# ## 4. The optimised wave worked better than the one before it
#
# The study compared members back, return rate and spend on return of the two waves. The two waves
# ran in different seasons on differently built lists, so the table's difference mixes the new
# strategy with what changed around it; each wave's holdout measures that part, and the verdict
# rests on the change in the incremental return rate.

# %%
display(Markdown(claim_sentence(found[3])))
if found[3].details is not None:
    display(present(found[3].details, kinds={"incremental_return_rate": "points", "ci_low": "points", "ci_high": "points"}))

# %% tags=["hide"]
record_metrics(title=N_("The study's claims"), claims=[c.to_metrics() for c in found],
               supported=sum(c.verdict == claims.SUPPORTED for c in found))

# %% tags=["first"]
supported = [c.number for c in found if c.verdict == claims.SUPPORTED]
untestable = [c.number for c in found if c.verdict == claims.NOT_TESTABLE]
first_steps(
    tr("**{n} of the 4 claims** are supported by these data; act on those.", n=len(supported)),
    tr("Claims {numbers} cannot be tested on these data: their sections say what is missing.",
       numbers=", ".join(map(str, untestable))) if untestable else "",
    tr("An open claim says how many members per arm a wave needs to settle it.") if len(supported) + len(untestable) < 4 else "",
)
