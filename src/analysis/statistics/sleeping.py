"""Who is really asleep (trilogy step 1): the naive sleeping list and the refined one.

The *naive list* holds members of a target tier with no purchase for at least
``sleeping_days`` before the list date. The *refined list* removes invalid sleepers: members
with evidence of presence in a lookback window (parking, Wi-Fi and other visit records),
members the chosen channel cannot reach (invalid phone; no WeChat binding), opted-out
members, and likely duplicate cards (a phone number shared with another member).

Presence is evidence only from before the list is drawn and only when it is not a campaign's
outcome: a visit counts when it falls in the lookback window ending on the list date and not in
the response window of a campaign that contacted that member. A rule the data cannot apply (no
visit recorded in the window, reachability or opt-out never filled in, no phone numbers) is
named in ``unavailable``: removing nobody by it is then not a finding.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import ClassVar

import ibis
import numpy as np
import pandas as pd

from analysis.data.dataset import MallData
from analysis.statistics.results import Phrase, Result

#: The refinement rules, in the order they are applied (codes; their words: presentation.sleeping_text).
RULES = ("present", "unreachable", "opted_out", "duplicate")
CHANNEL_NEEDS = {
    "sms": ("phone_valid",),
    "call": ("phone_valid",),
    "wechat": ("wechat_bound",),
    "call_wechat": ("phone_valid", "wechat_bound"),
}


@dataclass(frozen=True)
class SleepingList(Result):
    """The naive sleeping list with the refinement flags of every member on it.

    ``members`` has one row per naive sleeper: ``member_id``, ``days_since_purchase``,
    ``tier`` and a boolean per rule (``present``, ``unreachable``, ``opted_out``,
    ``duplicate``), plus ``refined`` (no rule applies) and ``removed_by`` (the first rule in
    funnel order that applies).
    """

    list_date: dt.date
    tier: str
    sleeping_days: int
    lookback_days: int
    channel: str
    members: pd.DataFrame = field(repr=False)
    notes: tuple[Phrase, ...] = ()
    unavailable: tuple[str, ...] = ()  # rules (of RULES) the data cannot apply

    @property
    def testable(self) -> bool:
        """Whether any refinement could be applied (else the refined list is the naive one by
        default, not by evidence)."""
        return len(self.unavailable) < len(RULES)

    @property
    def naive_size(self) -> int:
        return len(self.members)

    @property
    def refined_size(self) -> int:
        return int(self.members["refined"].sum())

    @property
    def invalid_share(self) -> float:
        """Share of the naive list that is not really asleep or cannot be woken by the channel
        (unknown, ``NaN``, when no refinement can be applied to the data)."""
        return 1 - self.refined_size / self.naive_size if self.naive_size and self.testable else float("nan")

    @property
    def overstatement(self) -> float:
        """How much larger the naive list is than the refined one (0.25 = 25 % larger)."""
        return self.naive_size / self.refined_size - 1 if self.refined_size and self.testable else float("nan")

    def removed_by_rule(self) -> dict[str, int]:
        """Members each applied rule removes, in order, by the rule's code (``present``,
        ``unreachable``, ``opted_out``, ``duplicate``): the numbers of :meth:`funnel`, without words."""
        remaining, out = pd.Series(True, index=self.members.index), {}
        for rule in RULES:
            if rule not in self.unavailable:
                out[rule] = int((remaining & self.members[rule]).sum())
                remaining &= ~self.members[rule]
        return out

    def funnel(self) -> pd.DataFrame:
        """Members remaining after each rule, applied in order, and how many each removes. ``step``
        is a code: ``naive`` and then each applied rule's code (:data:`RULES`)."""
        rows = [{"step": "naive", "removed": 0, "remaining": self.naive_size, "removed_alone": 0}]
        remaining = pd.Series(True, index=self.members.index)
        for rule in RULES:
            if rule in self.unavailable:  # not applied: the data cannot say, which is not "nobody"
                continue
            hit = self.members[rule]
            removed = int((remaining & hit).sum())
            remaining &= ~hit
            rows.append(
                {
                    "step": rule,
                    "removed": removed,
                    "remaining": int(remaining.sum()),
                    "removed_alone": int(hit.sum()),
                }
            )
        out = pd.DataFrame(rows)
        out["share_of_naive"] = out["remaining"] / self.naive_size if self.naive_size else np.nan
        return out

    def overlaps(self) -> pd.DataFrame:
        """Members per combination of rules (which invalid sleepers are invalid for several reasons)."""
        flags = self.members[list(RULES)]
        combo = flags.apply(lambda r: " + ".join(k for k in RULES if r[k]) or "none (refined list)", axis=1)
        out = combo.value_counts().rename_axis("rules").reset_index(name="members")
        out["share"] = out["members"] / self.naive_size
        return out

    def table(self) -> pd.DataFrame:
        return pd.DataFrame(
            [
                {
                    "list_date": self.list_date,
                    "tier": self.tier,
                    "sleeping_days": self.sleeping_days,
                    "naive_list": self.naive_size,
                    "refined_list": self.refined_size,
                    "invalid_sleepers": self.naive_size - self.refined_size if self.testable else np.nan,
                    "invalid_share": self.invalid_share,
                    "naive_overstates_by": self.overstatement,
                }
            ]
        )

    def summary(self) -> pd.DataFrame:
        return self.funnel()

    kinds: ClassVar[dict] = {"invalid_share": "percent", "naive_overstates_by": "percent"}


def _truthy(col) -> ibis.Value:
    return col.fill_null(False)


def build_sleeping_list(
    data: MallData,
    list_date: dt.date | str | None = None,
    tier: str = "gold",
    sleeping_days: int = 180,
    lookback_days: int = 90,
    channel: str = "call_wechat",
) -> SleepingList:
    """Build the naive list as of ``list_date`` and flag every invalid sleeper on it.

    Parameters
    ----------
    list_date
        The day the list is drawn (purchases strictly before the following day count).
        Default: the analysis date.
    tier
        Target card tier; ``"all"`` for every tier.
    sleeping_days
        Days without a purchase to count as sleeping (measured from joining if the member
        never bought).
    lookback_days
        Window before ``list_date`` in which a visit record shows the member still comes.
    channel
        ``sms``, ``call``, ``wechat`` or ``call_wechat``: decides who is unreachable.

    Notes
    -----
    Unknown reachability (empty ``phone_valid``/``wechat_bound``) counts as reachable, and
    without a ``phone`` column no duplicates can be found; both are stated in ``notes``.
    """
    if channel not in CHANNEL_NEEDS:
        raise ValueError(f"channel must be one of {sorted(CHANNEL_NEEDS)}, not {channel!r}")
    if tier != "all" and tier not in data.tiers:
        raise ValueError(f"tier {tier!r} is not one of the tier levels {data.tiers}")
    list_date = pd.Timestamp(list_date or data.as_of).date()
    end = ibis.literal(pd.Timestamp(list_date) + pd.Timedelta(days=1))
    lookback_start = ibis.literal(pd.Timestamp(list_date) + pd.Timedelta(days=1 - lookback_days))
    m, t, v = data.members, data.purchases, data.visits
    _ = ibis._
    last = t.filter(t.ts < end).group_by("member_id").aggregate(last_purchase=_.ts.max())
    window = v.filter((v.ts >= lookback_start) & (v.ts < end))
    c, k = data.contacts, data.campaigns
    responses = (
        c.join(k, "campaign_id")
        .select(
            c.member_id,
            win_start=k.start_date.cast("timestamp"),
            win_end=(k.start_date + k.response_days.as_interval("D")).cast("timestamp"),
        )
        .view()
    )
    # a visit in the response window of a campaign that contacted the member is that campaign's outcome
    window = window.anti_join(
        responses, [window.member_id == responses.member_id, window.ts >= responses.win_start, window.ts < responses.win_end]
    )
    recorded = bool(window.count().to_pandas())  # does the data record any visit in the window that is not an outcome?
    seen = window.group_by("member_id").aggregate(visits=_.count())
    base = m if tier == "all" else m.filter(m.tier == tier)
    base = base.filter(base.join_date < end.cast("date"))
    cols = ["member_id", "tier", "join_date", "phone_valid", "wechat_bound", "opt_out"]
    has_phone = "phone" in data.member_attributes
    notes, unavailable = [], []
    if not recorded:
        unavailable.append("present")
    if has_phone:
        counts = m.filter(m.phone.notnull()).group_by("phone").aggregate(cards=_.count())
        base = base.left_join(counts, "phone").drop("phone_right")
        cols.append("cards")
    else:
        unavailable.append("duplicate")  # named by unavailable_phrase
    j = base.select(*cols).left_join(last, "member_id").drop("member_id_right")
    j = j.left_join(seen, "member_id").drop("member_id_right")
    df = j.to_pandas()
    since = pd.to_datetime(df["last_purchase"]).dt.normalize().fillna(pd.to_datetime(df["join_date"]))
    df["days_since_purchase"] = (pd.Timestamp(list_date) - since).dt.days
    df = df[df["days_since_purchase"] >= sleeping_days].copy()
    df["present"] = df["visits"].fillna(0) > 0
    needs = CHANNEL_NEEDS[channel]
    reach = np.zeros(len(df), dtype=bool)
    if all(df[col].isna().all() for col in needs):
        unavailable.append("unreachable")  # named by unavailable_phrase
    for col in needs:
        if df[col].isna().all() and "unreachable" not in unavailable:
            notes.append(Phrase.of("sleeping.empty_column", column=col))
        reach |= df[col].fillna(True).astype(bool).to_numpy()
    if df["opt_out"].isna().all():
        unavailable.append("opted_out")
    df["unreachable"] = ~reach
    df["opted_out"] = df["opt_out"].fillna(False).astype(bool)
    df["duplicate"] = (df["cards"].fillna(1) > 1) if has_phone else False
    df["refined"] = ~df[list(RULES)].any(axis=1)
    first = np.select([df[r] for r in RULES], list(RULES), default="")
    df["removed_by"] = pd.Series(first, index=df.index).replace("", None)
    keep = ["member_id", "tier", "days_since_purchase", *RULES, "refined", "removed_by"]
    out = df[keep].sort_values("member_id").reset_index(drop=True)
    return SleepingList(
        list_date, tier, sleeping_days, lookback_days, channel, out, tuple(notes), tuple(r for r in RULES if r in unavailable)
    )


def unavailable_phrase(sl: SleepingList) -> Phrase | None:
    """The refinements these data cannot apply, as a phrase (``None``: all apply)."""
    if not sl.unavailable:
        return None
    return Phrase.of("sleeping.untestable" if not sl.testable else "sleeping.unavailable", rules=tuple(sl.unavailable))


def default_list_date(data: MallData, list_date: str = "", naive_campaign: str = "") -> str | None:
    """The day the naive list is drawn: ``list_date`` when given, else the day before
    ``naive_campaign`` started (the list it was sent to; presence after that day may be the
    campaign's doing), else ``None`` (the analysis date)."""
    if list_date:
        return list_date
    if naive_campaign:
        k = data.campaigns
        start = k.filter(k.campaign_id == naive_campaign).start_date.to_pandas()
        if len(start):
            return str((pd.Timestamp(start.iloc[0]) - pd.Timedelta(days=1)).date())
    return None


def compare_list_return_rates(outcomes: pd.DataFrame, sleeping: SleepingList, campaign_id: str) -> pd.DataFrame:
    """Return rate of a campaign's arms among refined-list members vs invalid sleepers.

    Shows how a naive list distorts a campaign's rates: invalid sleepers who still come
    "return" without being woken, and unreachable ones cannot respond at all.
    """
    df = outcomes[outcomes["campaign_id"] == campaign_id].merge(
        sleeping.members[["member_id", "refined", "removed_by"]], on="member_id", how="left"
    )
    df["group"] = np.where(
        df["refined"].fillna(False).astype(bool), "refined list", "invalid: " + df["removed_by"].fillna("not on the list")
    )
    rows = []
    for (arm, grp), sub in df.groupby(["arm", "group"], sort=True):
        rows.append({"arm": arm, "group": grp, "contacted": len(sub), "return_rate": sub["returned"].mean()})
    for arm, sub in df.groupby("arm", sort=True):
        rows.append({"arm": arm, "group": "whole naive list", "contacted": len(sub), "return_rate": sub["returned"].mean()})
    return pd.DataFrame(rows).sort_values(["arm", "group"]).reset_index(drop=True)
