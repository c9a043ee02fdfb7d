"""Synthetic Shopping Mall A: a seeded generator with known, planted effects.

The real mall's data is private, so this generator writes a data directory in the contract
(``members.csv``, ``transactions.parquet``, ``visits.parquet``, ``campaigns.csv``,
``contacts.csv``) plus ``truth.json`` (every planted effect) and ``truth_members.parquet``
(each member's latent type, purchase rate, lifetime and status).

Notes
-----
Behaviour, in the generator's own terms:

* Each member has a latent type (family, young, luxury, convenience) that sets the purchase
  rate, ticket size, category mix and car ownership; rates and tickets vary within a type
  (gamma / log-normal). Each member also has an exponential lifetime after joining; after it
  ends they never come again, so "sleeping" emerges from behaviour.
* Trips to the mall follow a Poisson process whose intensity is the member's rate times a
  daily calendar weight (weekends, Spring Festival, 618, National Day week, Double 11).
  Visits without purchase run at 30 % of the trip rate. Car owners leave a parking record on
  65 % of trips and browsing visits, Wi-Fi users a Wi-Fi record on 50 %.
* "Ghost" members (a share of car owners) stop swiping their card at a random date but keep
  coming: their parking records continue. They are the study's invalid sleepers.
* About 2 % of members are duplicate registrations: a second card sharing a phone number with
  another member, used briefly and then asleep.
* Wake-up waves target sleeping gold members with a randomized holdout. A reached, treated
  member returns with probability ``p0 + (1 - p0) * effect`` where ``p0`` is the member's
  natural return probability in the window, computed exactly from the thinned Poisson
  process. The truth of each arm is the mean of ``(1 - p0) * P(reached) * effect`` over the
  wave's list, which is what a holdout comparison estimates.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from analysis.data.config import DEFAULT_TIERS
from analysis.data.params import DATA_PARAMS_FILE
from analysis.statistics.campaigns import RECENCY_BAND_EDGES, band_labels
from analysis.statistics.plan import (
    PREREGISTRATION_DIR,
    PlanSpec,
    assign_arms,
    list_size_needed,
    planned_contacts,
    preregistration_record,
    record_json,
)

DAYS_PER_MONTH = 30.4375
BROWSE_RATIO = 0.3
P_PARK = 0.65
P_WIFI = 0.5
HOLDOUT = "holdout"

TIER_THRESHOLDS = {"silver": 3_000.0, "gold": 8_000.0, "platinum": 40_000.0}

#: Latent member types: share, purchases per month (mean), ticket (yuan), lifetime (months),
#: car ownership, Wi-Fi use, category mix.
MEMBER_TYPES = {
    "family": dict(
        share=0.30,
        rate=1.8,
        ticket=380.0,
        lifetime=24.0,
        car=0.75,
        wifi=0.3,
        categories={"kids": 0.35, "dining": 0.30, "apparel": 0.25, "supermarket": 0.10},
    ),
    "young": dict(
        share=0.25,
        rate=3.5,
        ticket=95.0,
        lifetime=20.0,
        car=0.25,
        wifi=0.7,
        categories={"cinema": 0.30, "beverage": 0.35, "dining": 0.25, "apparel": 0.10},
    ),
    "luxury": dict(
        share=0.12,
        rate=0.7,
        ticket=2600.0,
        lifetime=30.0,
        car=0.85,
        wifi=0.2,
        categories={"luxury": 0.55, "jewelry": 0.25, "apparel": 0.15, "dining": 0.05},
    ),
    "convenience": dict(
        share=0.33,
        rate=1.1,
        ticket=130.0,
        lifetime=26.0,
        car=0.45,
        wifi=0.3,
        categories={"supermarket": 0.60, "dining": 0.20, "beverage": 0.15, "kids": 0.05},
    ),
}
CATEGORIES = ("apparel", "beverage", "cinema", "dining", "jewelry", "kids", "luxury", "supermarket")
STORES_PER_CATEGORY = 5
VISIT_SOURCES = ["parking", "wifi"]
STORE_IDS = [f"S-{c}{k + 1}" for c in CATEGORIES for k in range(STORES_PER_CATEGORY)]

#: Spring Festival (lunar new year) dates.
SPRING_FESTIVAL = {
    2021: "2021-02-12",
    2022: "2022-02-01",
    2023: "2023-01-22",
    2024: "2024-02-10",
    2025: "2025-01-29",
    2026: "2026-02-17",
}


@dataclass(frozen=True)
class WaveDesign:
    campaign_id: str
    name: str
    start_date: str
    response_days: int
    sleeping_list: str  # "naive" or "refined"
    arms: dict  # arm label -> (channel, gift, effect); the holdout arm has effect 0
    description: str


#: Contact cost per member by channel (yuan); gift cost per redeemed gift. As the study found the
#: smart outbound-call system plus WeChat template messages (free) cheaper than its text messages
#: (a marketing SMS of three 70-character segments at 0.10 yuan each).
CONTACT_COST = {"sms": 0.30, "call_wechat": 0.04}
GIFT_COST = 25.0
REACH = {"sms": 0.90, "call": 0.45, "wechat": 0.90}

WAVES = (
    WaveDesign(
        "W1-BEFORE",
        "Before: naive list, SMS, daily-use gift",
        "2024-03-11",
        30,
        "naive",
        {"sms_daily": ("sms", "daily", 0.05), HOLDOUT: (None, None, 0.0)},
        "Naive sleeping list (no purchase for 180 days), SMS with a daily-use gift, in the post-Spring-Festival lull.",
    ),
    WaveDesign(
        "W2-AFTER",
        "After: refined list, outbound call + WeChat, entertainment gift",
        "2024-09-20",
        30,
        "refined",
        {"call_wechat_ent": ("call_wechat", "entertainment", 0.16), HOLDOUT: (None, None, 0.0)},
        "Refined list (present or unreachable members removed), smart outbound call plus WeChat template message, milk tea / movie ticket; window covers National Day week.",
    ),
    WaveDesign(
        "W3-FACTORIAL",
        "Factorial: gift type x channel",
        "2024-11-18",
        30,
        "refined",
        {
            "sms_daily": ("sms", "daily", 0.05),
            "sms_ent": ("sms", "entertainment", 0.09),
            "call_wechat_daily": ("call_wechat", "daily", 0.10),
            "call_wechat_ent": ("call_wechat", "entertainment", 0.16),
            HOLDOUT: (None, None, 0.0),
        },
        "Refined list, randomized 2x2 of gift type and channel plus holdout.",
    ),
)
SLEEPING_DAYS = 180
PRESENCE_LOOKBACK_DAYS = 90
#: Whom a contact moves more (heterogeneous uplift). A member's chance of being brought back by a
#: reached contact is the arm's effect times a multiplier with mean 1 over the wave's list: larger
#: for members asleep a shorter time (halving every ``recency_half_life_days`` past the sleeping
#: threshold), for higher tiers, and for members living in a district near the mall. Every
#: member's true uplift per arm is written to ``truth_uplift.parquet``.
UPLIFT_DRIVERS = {
    "recency_half_life_days": 120,
    "tier": {"normal": 0.6, "silver": 0.8, "gold": 1.0, "platinum": 1.6},
    "near_districts": ("Xuhui", "Minhang"),
    "near": 1.8,
    "far": 0.6,
}
#: Arm shares of the demo's waves (the holdout's; the treated arms share the rest equally) and
#: what their pre-registration records state (written by the same code as ``mallwake plan``).
HOLDOUT_SHARE = 0.2
PLANNED_MIN_LIFT = 0.05
FACTORIAL_WAVE = "W3-FACTORIAL"
#: How the study's crossed wave is drawn. ``full`` (the demo): the refined sleeping list of silver,
#: gold and platinum members, large enough for the gift and channel effects to show at the 95 %
#: level (truth.json states the power). ``small``: a quarter of the gold members' list (about 90
#: per arm), where the same effects usually do not reach significance (for teaching: power). ``null``:
#: the full list with the factorial arms' effects planted at zero (for checking the claim rules).
STUDY_DESIGNS = {
    "full": {"factorial_tiers": ("silver", "gold", "platinum"), "null_factorial": False},
    # a quarter of the gold list: about 90 members per arm, power near 0.3 for the planted effects
    "small": {"factorial_tiers": ("gold",), "null_factorial": False, "list_share": 0.25},
    "null": {"factorial_tiers": ("silver", "gold", "platinum"), "null_factorial": True},
}


def daily_weights(days: pd.DatetimeIndex) -> np.ndarray:
    """Calendar intensity per day (mean 1): weekday pattern and Chinese retail seasons."""
    dow = np.array([0.80, 0.80, 0.85, 0.90, 1.05, 1.45, 1.35])[days.day_of_week]
    season = np.ones(len(days))
    month, day = days.month.to_numpy(), days.day.to_numpy()
    season[(month == 6) & (day >= 1) & (day <= 18)] *= 1.45  # 618
    season[(month == 10) & (day <= 7)] *= 1.9  # National Day golden week
    season[(month == 9) & (day >= 20)] *= 1.2  # run-up to National Day
    season[(month == 11) & (day <= 11)] *= 1.45  # Double 11
    season[np.isin(month, (7, 8))] *= 1.1  # summer holidays
    season[np.isin(month, (3, 4))] *= 0.8  # post-holiday lull
    for date in SPRING_FESTIVAL.values():
        sf = pd.Timestamp(date)
        before = (days >= sf - pd.Timedelta(days=14)) & (days < sf)
        during = (days >= sf) & (days < sf + pd.Timedelta(days=7))
        season[before] *= 1.6
        season[during] *= 0.6
    w = dow * season
    return w / w.mean()


def _repeat_uniform(rng, lo, hi, counts):
    return rng.uniform(np.repeat(lo, counts), np.repeat(hi, counts))


class _Mall:
    """Working state of one generation (arrays indexed by member position)."""

    def __init__(self, n_members: int, seed: int, start: str, end: str):
        self.seed = seed
        self.rng = np.random.default_rng(seed)
        self.n = n_members
        self.start, self.end = pd.Timestamp(start), pd.Timestamp(end)
        self.days = pd.date_range(self.start, self.end, freq="D")
        self.w = daily_weights(self.days)
        self.W = np.concatenate([[0.0], np.cumsum(self.w)])
        self.D = len(self.days)

    def cum(self, idx):
        return self.W[np.clip(idx, 0, self.D).astype(np.int64)]


def _members(m: _Mall) -> pd.DataFrame:
    rng, n = m.rng, m.n
    names = list(MEMBER_TYPES)
    shares = np.array([MEMBER_TYPES[t]["share"] for t in names])
    mtype = rng.choice(len(names), size=n, p=shares / shares.sum())
    par = {k: np.array([MEMBER_TYPES[t][k] for t in names])[mtype] for k in ("rate", "ticket", "lifetime", "car", "wifi")}
    shape = 3.0
    rate = rng.gamma(shape, par["rate"] / shape)  # purchases per month while alive
    ticket = par["ticket"] * rng.lognormal(-0.045, 0.3, n)
    lifetime_days = rng.exponential(par["lifetime"] * DAYS_PER_MONTH)
    # join dates from two years before the history starts to its last day (members keep joining:
    # the last month's report has new members)
    first_join = m.start - pd.DateOffset(years=2)
    span = (m.end - first_join).days + 1
    join_offset = np.sort(rng.integers(0, span, n))  # sorted: member numbers follow joining
    join_idx = join_offset - (m.start - first_join).days  # day index relative to history start
    car = rng.random(n) < par["car"]
    wifi = rng.random(n) < par["wifi"]
    ghost = car & (rng.random(n) < 0.22)
    alive_from, alive_to = np.maximum(join_idx, 0), np.minimum(join_idx + lifetime_days.astype(int), m.D)
    ghost_day = np.where(ghost, np.ceil(join_idx + rng.uniform(0.2, 0.9, n) * (lifetime_days + 200)), np.inf)
    ghost_day = np.where(ghost & (ghost_day < alive_to), np.maximum(ghost_day, alive_from).astype(float), np.inf)
    ghost = np.isfinite(ghost_day)
    # duplicate registrations: a second card that is used a little, then sleeps
    dup = rng.random(n) < 0.02
    rate = np.where(dup, 0.3, rate)
    lifetime_days = np.where(dup, rng.uniform(20, 90, n), lifetime_days)
    alive_to = np.where(dup, np.minimum(join_idx + lifetime_days.astype(int), m.D), alive_to)
    ghost = ghost & ~dup
    ghost_day = np.where(ghost, ghost_day, np.inf)

    ids = np.char.add("MA", np.char.zfill((10_000_000 + rng.choice(90_000_000, size=n, replace=False)).astype(str), 8))
    phones = (13_000_000_000 + rng.choice(8_999_999_999, size=n, replace=False)).astype(str)
    originals = np.flatnonzero(~dup)
    primary = originals[rng.integers(0, len(originals), n)]
    phones = np.where(dup, phones[primary], phones)
    provinces = np.array(["沪A", "沪B", "苏E", "浙A", "沪C"])
    plates = np.char.add(provinces[rng.integers(0, len(provinces), n)], rng.integers(10000, 99999, n).astype(str))
    age = np.clip(np.where(mtype == names.index("young"), rng.normal(26, 4, n), rng.normal(42, 10, n)), 18, 80)
    join_date = (first_join + pd.to_timedelta(join_offset, unit="D")).normalize()
    df = pd.DataFrame(
        {
            "member_id": ids,
            "join_date": join_date,
            "birth_year": (m.end.year - age).astype(int),
            "gender": np.where(rng.random(n) < np.where(mtype == names.index("family"), 0.7, 0.55), "F", "M"),
            "phone_valid": rng.random(n) < 0.86,
            "wechat_bound": rng.random(n) < np.where(mtype == names.index("young"), 0.8, 0.5),
            "opt_out": rng.random(n) < 0.04,
            "district": rng.choice(["Xuhui", "Minhang", "Pudong", "Jing'an", "Changning", "other"], n),
            "phone": phones,
            "plate": np.where(car, plates, ""),
        }
    )
    latent = pd.DataFrame(
        {
            "member_id": ids,
            "member_type": np.array(names)[mtype],
            "rate_per_month": rate,
            "ticket": ticket,
            "lifetime_days": lifetime_days,
            "join_idx": join_idx,
            "alive_from": alive_from,
            "alive_to": alive_to,
            "car_owner": car,
            "wifi_user": wifi,
            "ghost": ghost,
            "ghost_from_idx": ghost_day,
            "duplicate_card": dup,
        }
    )
    return df, latent


def _events(m: _Mall, lat: pd.DataFrame, members: pd.DataFrame):
    rng = m.rng
    a, b = lat["alive_from"].to_numpy(), lat["alive_to"].to_numpy()
    a = np.minimum(a, m.D)
    b = np.maximum(b, a)
    mass = np.maximum(m.cum(b) - m.cum(a), 0.0)
    lam = lat["rate_per_month"].to_numpy() / DAYS_PER_MONTH
    car, wifi = lat["car_owner"].to_numpy(), lat["wifi_user"].to_numpy()
    ghost_from = lat["ghost_from_idx"].to_numpy()
    out = {}
    for kind, ratio in (("trip", 1.0), ("browse", BROWSE_RATIO)):
        counts = rng.poisson(lam * ratio * mass)
        who = np.repeat(np.arange(m.n), counts)
        u = _repeat_uniform(rng, m.cum(a), m.cum(b), counts)
        day = np.clip(np.searchsorted(m.W, u, side="right") - 1, 0, m.D - 1)
        sec = rng.integers(10 * 3600, 22 * 3600, len(who))
        park = car[who] & (rng.random(len(who)) < P_PARK)
        wif = wifi[who] & (rng.random(len(who)) < P_WIFI)
        out[kind] = (who, day, sec, park, wif)

    who, day, sec, park, wif = out["trip"]
    swiped = day < ghost_from[who]
    mtypes = lat["member_type"].to_numpy()
    cat = np.zeros(len(who), dtype=np.int8)  # codes into CATEGORIES: strings only at write time
    for t, spec in MEMBER_TYPES.items():
        sel = mtypes[who] == t
        probs = np.array(list(spec["categories"].values()))
        codes = np.array([CATEGORIES.index(c) for c in spec["categories"]], dtype=np.int8)
        cat[sel] = codes[rng.choice(len(probs), sel.sum(), p=probs)]
    amount = np.round(lat["ticket"].to_numpy()[who] * rng.lognormal(-0.18, 0.6, len(who)), 2)
    store = rng.integers(0, STORES_PER_CATEGORY, len(who)).astype(np.int8)
    ids = members["member_id"].to_numpy()
    tx = pd.DataFrame(
        {
            "who": who[swiped],
            "day": day[swiped],
            "sec": sec[swiped],
            "amount": amount[swiped],
            "category": cat[swiped],
            "store": store[swiped],
        }
    )
    vis_parts = []
    for kind in ("trip", "browse"):
        w_, d_, s_, p_, f_ = out[kind]
        for flag, source, lag in ((p_, 0, -900), (f_, 1, 300)):
            vis_parts.append(pd.DataFrame({"who": w_[flag], "day": d_[flag], "sec": s_[flag] + lag, "source": np.int8(source)}))
    visits = pd.concat(vis_parts, ignore_index=True)
    return tx, visits, ids


def _stamp(m: _Mall, day, sec) -> pd.Series:
    base = m.start.to_datetime64() + day.astype("timedelta64[D]")
    return pd.Series(base.astype("datetime64[s]") + np.asarray(sec, dtype="timedelta64[s]"))


def _assign_tiers(m: _Mall, members: pd.DataFrame, tx: pd.DataFrame) -> np.ndarray:
    """Card tier from the best calendar-year spend (tiers are held, so sleepers keep them)."""
    year = m.days.year.to_numpy()[tx["day"].to_numpy()]
    spend = pd.DataFrame({"who": tx["who"].to_numpy(), "year": year, "amount": tx["amount"].to_numpy()})
    best = spend.groupby(["who", "year"])["amount"].sum().groupby("who").max()
    best = best.reindex(np.arange(m.n), fill_value=0.0).to_numpy()
    tier = np.full(m.n, "normal", dtype=object)
    for name, threshold in TIER_THRESHOLDS.items():
        tier[best >= threshold] = name
    return tier


def _natural_return_prob(m: _Mall, lat: pd.DataFrame, t0: int, t1: int) -> np.ndarray:
    """Exact P(at least one purchase or recorded visit in days [t0, t1)) per member."""
    lam = lat["rate_per_month"].to_numpy() / DAYS_PER_MONTH
    a = np.maximum(lat["alive_from"].to_numpy(), t0)
    b = np.minimum(lat["alive_to"].to_numpy(), t1)
    b = np.maximum(a, b)
    v = 1 - (1 - lat["car_owner"].to_numpy() * P_PARK) * (1 - lat["wifi_user"].to_numpy() * P_WIFI)
    g = np.clip(lat["ghost_from_idx"].to_numpy(), a, b)
    swiping = m.cum(g) - m.cum(a)  # trips always observed (purchase), browsing if recorded
    ghosting = m.cum(b) - m.cum(g)  # only recorded visits are observed
    intensity = lam * (swiping * (1 + BROWSE_RATIO * v) + ghosting * (1 + BROWSE_RATIO) * v)
    return 1 - np.exp(-intensity)


def _last_seen(m, lat, tx, t0) -> np.ndarray:
    """Each member's last purchase day before ``t0`` (the join day when none), from observed data."""
    last = tx.loc[tx["day"] < t0].groupby("who")["day"].max().reindex(np.arange(m.n)).to_numpy()
    return np.where(np.isnan(last), lat["join_idx"].to_numpy(), last)


def _sleeping_list(m, members, lat, visits, tier, t0, last_seen, kind, channel_reach_ok, tiers=("gold",)):
    """Positions of members on the wave's sleeping list, built from observed data only."""
    join_idx = lat["join_idx"].to_numpy()
    asleep = np.isin(tier, tiers) & (t0 - last_seen >= SLEEPING_DAYS) & (join_idx <= t0 - SLEEPING_DAYS)
    if kind == "refined":
        recent = visits.loc[(visits["day"] < t0) & (visits["day"] >= t0 - PRESENCE_LOOKBACK_DAYS), "who"].unique()
        present = np.zeros(m.n, bool)
        present[recent] = True
        phones = members["phone"].to_numpy()
        shared = pd.Series(phones).duplicated(keep=False).to_numpy()
        asleep &= ~present & channel_reach_ok & ~members["opt_out"].to_numpy() & ~shared
    return np.flatnonzero(asleep)


def _reach_prob(members: pd.DataFrame, pos: np.ndarray, channel: str | None) -> np.ndarray:
    phone = members["phone_valid"].to_numpy()[pos]
    wechat = members["wechat_bound"].to_numpy()[pos]
    opt = members["opt_out"].to_numpy()[pos]
    if channel is None:
        return np.zeros(len(pos))
    if channel == "sms":
        p = phone * REACH["sms"]
    else:
        p = 1 - (1 - phone * REACH["call"]) * (1 - wechat * REACH["wechat"])
    return np.where(opt, 0.0, p)


def _uplift_multiplier(days_asleep: np.ndarray, tier: np.ndarray, district: np.ndarray) -> np.ndarray:
    """:data:`UPLIFT_DRIVERS` for the members of one list, scaled to mean 1 over it."""
    d = UPLIFT_DRIVERS
    recency = 0.5 ** ((np.maximum(days_asleep, SLEEPING_DAYS) - SLEEPING_DAYS) / d["recency_half_life_days"])
    tiers = np.array([d["tier"].get(str(t), 1.0) for t in tier])
    place = np.where(np.isin(district, d["near_districts"]), d["near"], d["far"])
    raw = recency * tiers * place
    return raw / raw.mean() if len(raw) else raw


def _assign(wave: WaveDesign, ids: np.ndarray, tier: np.ndarray, days_asleep: np.ndarray, seed: int):
    """The wave's arms drawn as ``mallwake plan`` draws them (blocked by tier and recency band,
    seeded), the arm of each member in ``ids`` order, and the plan behind it."""
    treated = [a for a in wave.arms if a != HOLDOUT]
    shares = {a: (HOLDOUT_SHARE if a == HOLDOUT else (1 - HOLDOUT_SHARE) / len(treated)) for a in wave.arms}
    arms = {
        a: {
            "share": shares[a],
            "channel": wave.arms[a][0] or "none",
            "gift": wave.arms[a][1] or "none",
            "contact_cost": CONTACT_COST.get(wave.arms[a][0], 0.0),
            "gift_cost": GIFT_COST if wave.arms[a][1] else 0.0,
        }
        for a in wave.arms
    }
    spec = PlanSpec(
        campaign_id=wave.campaign_id,
        start_date=wave.start_date,
        arms=arms,
        control_arm=HOLDOUT,
        tier="gold",
        response_days=wave.response_days,
        min_detectable_lift=PLANNED_MIN_LIFT,
        seed=seed,
    )
    frame = pd.DataFrame(
        {
            "member_id": ids,
            "tier": tier,
            "recency_band": pd.cut(
                days_asleep, [-np.inf, *RECENCY_BAND_EDGES, np.inf], labels=band_labels(RECENCY_BAND_EDGES)
            ).astype(str),
        }
    )
    assigned = assign_arms(frame, shares, ["tier", "recency_band"], seed)
    arm_of = dict(zip(assigned["member_id"], assigned["arm"]))
    return np.array([arm_of[i] for i in ids], dtype=object), spec, assigned


def _preregistration(spec, assigned: pd.DataFrame, list_info: dict, baseline: float) -> dict:
    """The wave's pre-registration record, built as ``mallwake plan`` builds one."""
    planned = planned_contacts(spec, assigned)
    needed = list_size_needed(baseline, spec.min_detectable_lift, spec.shares, spec.control_arm, spec.alpha, spec.power)
    day_before = (pd.Timestamp(spec.start_date) - pd.Timedelta(days=1)).date()
    return preregistration_record(
        spec,
        planned,
        ["tier", "recency_band"],
        planned_on=str(day_before),
        baseline=baseline,
        baseline_source="the natural return rate planted on the list (synthetic Mall A)",
        needed=needed,
        list_info=list_info,
    )


def _run_waves(m, members, lat, tx, visits, tier, study: str = "full"):
    rng = m.rng
    contacts, campaigns, truth, records, uplift = [], [], {}, {}, []
    reachable = members["phone_valid"].to_numpy() | members["wechat_bound"].to_numpy()
    ids = members["member_id"].to_numpy()
    for wave in WAVES:
        t0 = (pd.Timestamp(wave.start_date) - m.start).days
        t1 = t0 + wave.response_days
        factorial = wave.campaign_id == FACTORIAL_WAVE
        tiers = STUDY_DESIGNS[study]["factorial_tiers"] if factorial else ("gold",)
        last_seen = _last_seen(m, lat, tx, t0)
        pos = _sleeping_list(m, members, lat, visits, tier, t0, last_seen, wave.sleeping_list, reachable, tiers)
        share = STUDY_DESIGNS[study].get("list_share", 1.0) if factorial else 1.0
        if share < 1:
            pos = pos[rng.random(len(pos)) < share]
        arms = list(wave.arms)
        days_asleep = (t0 - last_seen)[pos]
        drawn, spec, assigned = _assign(wave, ids[pos], tier[pos], days_asleep, seed=m.seed + 7 * (len(records) + 1))
        arm_idx = np.array([arms.index(a) for a in drawn], dtype=int)
        lift = _uplift_multiplier(days_asleep, tier[pos], members["district"].to_numpy()[pos])
        p0 = _natural_return_prob(m, lat, t0, t1)[pos]
        natural = (
            tx.loc[(tx["day"] >= t0) & (tx["day"] < t1), "who"].tolist()
            + visits.loc[(visits["day"] >= t0) & (visits["day"] < t1), "who"].tolist()
        )
        returned_naturally = np.isin(pos, np.unique(natural))
        arm_truth = {}
        rows, new_tx = [], []
        for k, arm in enumerate(arms):
            channel, gift, effect = wave.arms[arm]
            if factorial and STUDY_DESIGNS[study]["null_factorial"]:
                effect = 0.0  # no gift and no channel effect: what "supported" should almost never say
            effect_i = np.minimum(effect * lift, 0.95)  # each member's chance to be brought back once reached
            sel = arm_idx == k
            p_reach_all = _reach_prob(members, pos, channel)  # over the whole list: the estimand
            tau_all = (1 - p0) * p_reach_all * effect_i
            if channel is not None:
                uplift.append(
                    pd.DataFrame({"campaign_id": wave.campaign_id, "arm": arm, "member_id": ids[pos], "true_uplift": tau_all})
                )
            arm_pos = pos[sel]
            reached = rng.random(sel.sum()) < p_reach_all[sel]
            induced = reached & (rng.random(sel.sum()) < effect_i[sel])
            returned = returned_naturally[sel] | induced
            redeemed = reached & returned & (rng.random(sel.sum()) < 0.75) & (channel is not None)
            # induced returners come in early in the window and spend about one ticket
            ind_pos = arm_pos[induced]
            day = t0 + np.minimum(rng.geometric(0.12, len(ind_pos)) - 1, wave.response_days - 1)
            new_tx.append(
                pd.DataFrame(
                    {
                        "who": ind_pos,
                        "day": day,
                        "sec": rng.integers(10 * 3600, 22 * 3600, len(ind_pos)),
                        "amount": np.round(lat["ticket"].to_numpy()[ind_pos] * rng.lognormal(-0.18, 0.6, len(ind_pos)), 2),
                        "category": np.int8(CATEGORIES.index("cinema" if gift == "entertainment" else "supermarket")),
                        "store": np.int8(0),
                    }
                )
            )
            if channel is None:
                ccost = np.zeros(sel.sum())
            elif channel == "sms":
                ccost = np.full(sel.sum(), CONTACT_COST["sms"])
            else:
                ccost = np.full(sel.sum(), CONTACT_COST["call_wechat"])
            rows.append(
                pd.DataFrame(
                    {
                        "campaign_id": wave.campaign_id,
                        "member_id": ids[arm_pos],
                        "arm": arm,
                        "channel": channel or "none",
                        "gift": gift or "none",
                        "contact_cost": ccost,
                        "gift_cost": np.where(redeemed, GIFT_COST, 0.0),
                        "reached": reached,
                        "redeemed": redeemed,
                    }
                )
            )
            arm_truth[arm] = {
                "channel": channel,
                "gift": gift,
                "effect_if_reached": effect,
                "n_contacted": int(sel.sum()),
                "true_reach_rate": float(p_reach_all.mean()),
                "true_return_rate": float((p0 + tau_all).mean()),
                "true_incremental_return_rate": float(tau_all.mean()),
                # contact cost plus the gift of every reached member who returns and redeems (75 %)
                "true_cost_per_contacted": CONTACT_COST.get(channel, 0.0)
                + GIFT_COST * 0.75 * float((p_reach_all * (p0 + (1 - p0) * effect_i)).mean()) * (channel is not None),
                # an induced return adds one purchase of about one ticket (lognormal factor with mean 1),
                # whether or not the member also came back on their own: spend per contacted member rises
                # by reach x effect x ticket, averaged over the list
                "true_incremental_spend_per_contacted": float((p_reach_all * effect_i * lat["ticket"].to_numpy()[pos]).mean()),
            }
        contacts.append(pd.concat(rows, ignore_index=True))
        campaigns.append(
            {
                "campaign_id": wave.campaign_id,
                "start_date": wave.start_date,
                "response_days": wave.response_days,
                "name": wave.name,
                "description": wave.description,
            }
        )
        truth[wave.campaign_id] = {
            "start_date": wave.start_date,
            "response_days": wave.response_days,
            "sleeping_list": wave.sleeping_list,
            "list_size": int(len(pos)),
            "list_tiers": list(tiers),
            "share_ghosts_on_list": float(lat["ghost"].to_numpy()[pos].mean()) if len(pos) else None,
            "expected_natural_return_rate": float(p0.mean()),
            "control_arm": HOLDOUT,
            "arms": arm_truth,
        }
        records[wave.campaign_id] = _preregistration(
            spec,
            assigned,
            {
                "rule": f"{wave.sleeping_list} sleeping list",
                "tiers": list(tiers),
                "sleeping_days": SLEEPING_DAYS,
                "lookback_days": PRESENCE_LOOKBACK_DAYS,
                "members": int(len(pos)),
            },
            baseline=round(float(p0.mean()), 3),
        )
        tx = pd.concat([tx, *new_tx], ignore_index=True)
    return (
        pd.concat(contacts, ignore_index=True),
        pd.DataFrame(campaigns),
        truth,
        tx,
        records,
        pd.concat(uplift, ignore_index=True),
    )


def _design_truth(truth: dict) -> dict:
    """Derived estimands: the naive before/after bias and the factorial effects."""
    before, after = truth["W1-BEFORE"], truth["W2-AFTER"]
    b_arm, a_arm = before["arms"]["sms_daily"], after["arms"]["call_wechat_ent"]
    fac = truth["W3-FACTORIAL"]["arms"]
    inc = {k: v["true_incremental_return_rate"] for k, v in fac.items()}
    var = {k: v["true_return_rate"] * (1 - v["true_return_rate"]) / max(v["n_contacted"], 1) for k, v in fac.items()}
    z = 1.959963984540054  # two-sided 95 %

    def power(effect: float, se: float) -> float:
        """Power of a two-sided 5 % z-test of ``effect`` with standard error ``se`` (normal approximation)."""
        from scipy.stats import norm

        return float(norm.cdf(abs(effect) / se - z) + norm.cdf(-abs(effect) / se - z)) if se > 0 else float("nan")

    se_main = 0.5 * np.sqrt(sum(var[a] for a in ("sms_daily", "sms_ent", "call_wechat_daily", "call_wechat_ent")))
    gift = 0.5 * ((inc["sms_ent"] - inc["sms_daily"]) + (inc["call_wechat_ent"] - inc["call_wechat_daily"]))
    channel = 0.5 * ((inc["call_wechat_daily"] - inc["sms_daily"]) + (inc["call_wechat_ent"] - inc["sms_ent"]))
    did_arms = [before["arms"]["sms_daily"], before["arms"][HOLDOUT], after["arms"]["call_wechat_ent"], after["arms"][HOLDOUT]]
    se_did = float(np.sqrt(sum(a["true_return_rate"] * (1 - a["true_return_rate"]) / max(a["n_contacted"], 1) for a in did_arms)))
    did = a_arm["true_incremental_return_rate"] - b_arm["true_incremental_return_rate"]
    cost_per_inc = {}  # None: no incremental return to divide by (the null study)
    for ch, arms in (("sms", ("sms_daily", "sms_ent")), ("call_wechat", ("call_wechat_daily", "call_wechat_ent"))):
        denominator = float(np.mean([inc[a] for a in arms]))
        cost_per_inc[ch] = (
            float(np.mean([fac[a]["true_cost_per_contacted"] for a in arms])) / denominator if denominator > 0 else None
        )
    return {
        "naive_before_after": {
            "before": "W1-BEFORE/sms_daily",
            "after": "W2-AFTER/call_wechat_ent",
            "expected_naive_difference": a_arm["true_return_rate"] - b_arm["true_return_rate"],
            "true_difference_in_incremental_effect": a_arm["true_incremental_return_rate"]
            - b_arm["true_incremental_return_rate"],
            "bias_from_season_and_list": after["expected_natural_return_rate"] - before["expected_natural_return_rate"],
        },
        "difference_in_differences": {
            "estimand": "(after treated - after holdout) - (before treated - before holdout)",
            "true_value": did,
            "design_se": se_did,
            "design_power_at_5pct": power(did, se_did),
        },
        "factorial": {
            "campaign_id": "W3-FACTORIAL",
            "gift_effect_entertainment_vs_daily": gift,
            "channel_effect_call_wechat_vs_sms": channel,
            "interaction": (inc["call_wechat_ent"] - inc["call_wechat_daily"]) - (inc["sms_ent"] - inc["sms_daily"]),
            # the design's standard error of either main effect (from the true rates and the arm sizes) and the
            # power of a two-sided 5 % test to detect the planted effect
            "design_se_main_effect": float(se_main),
            "design_power_gift_at_5pct": power(gift, se_main),
            "design_power_channel_at_5pct": power(channel, se_main),
            "true_cost_per_incremental_return_by_channel": cost_per_inc,
            "true_cost_difference_call_wechat_minus_sms": (
                cost_per_inc["call_wechat"] - cost_per_inc["sms"] if None not in cost_per_inc.values() else None
            ),
        },
    }


def generate_mall(
    out_dir: str | Path,
    n_members: int = 50_000,
    seed: int = 20240101,
    start: str = "2022-01-01",
    end: str = "2024-12-31",
    study: str = "full",
) -> Path:
    """Write a synthetic Mall A data directory with its truth.

    Parameters
    ----------
    out_dir
        Directory to write into (created; existing contract files are replaced).
    n_members
        Number of members (50,000 by default; 1,000,000 runs in a few minutes).
    seed
        Random seed: the same seed and size give byte-identical files.
    start, end
        First and last day of the transaction history.
    study
        The design of the crossed gift x channel wave (:data:`STUDY_DESIGNS`): ``"full"``
        (default), ``"small"`` (too few members to show the effects) or ``"null"`` (no effects).

    Returns
    -------
    Path
        ``out_dir``.
    """
    if study not in STUDY_DESIGNS:
        raise ValueError(f"study must be one of {', '.join(STUDY_DESIGNS)}, got {study!r}")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    m = _Mall(n_members, seed, start, end)
    members, lat = _members(m)
    tx, visits, ids = _events(m, lat, members)
    tier = _assign_tiers(m, members, tx)
    members.insert(2, "tier", tier)
    contacts, campaigns, wave_truth, tx, records, uplift = _run_waves(m, members, lat, tx, visits, tier, study)

    tx = tx.sort_values(["day", "sec", "who"], kind="stable").reset_index(drop=True)
    transactions = pd.DataFrame(
        {
            "txn_id": np.arange(1, len(tx) + 1, dtype=np.int64),  # integers: compact; read as text ids
            "member_id": pd.Categorical.from_codes(tx["who"].to_numpy(), categories=ids),
            "ts": _stamp(m, tx["day"].to_numpy(), tx["sec"].to_numpy()),
            "amount": tx["amount"].to_numpy(),
            "store_id": pd.Categorical.from_codes(
                tx["category"].to_numpy().astype(np.int32) * STORES_PER_CATEGORY + tx["store"].to_numpy(), categories=STORE_IDS
            ),
            "category": pd.Categorical.from_codes(tx["category"].to_numpy().astype(np.int32), categories=list(CATEGORIES)),
        }
    )
    visits = visits.sort_values(["day", "sec", "who"], kind="stable").reset_index(drop=True)
    visits_out = pd.DataFrame(
        {
            "member_id": pd.Categorical.from_codes(visits["who"].to_numpy(), categories=ids),
            "ts": _stamp(m, visits["day"].to_numpy(), np.clip(visits["sec"].to_numpy(), 0, 86399)),
            "source": pd.Categorical.from_codes(visits["source"].to_numpy().astype(np.int32), categories=VISIT_SOURCES),
        }
    )
    members_out = members.copy()
    members_out["join_date"] = members_out["join_date"].dt.strftime("%Y-%m-%d")

    _write_csv(members_out, out / "members.csv")
    _write_parquet(transactions, out / "transactions.parquet")
    _write_parquet(visits_out, out / "visits.parquet")
    _write_csv(campaigns, out / "campaigns.csv")
    _write_csv(contacts, out / "contacts.csv")
    (out / DATA_PARAMS_FILE).write_text(_study_parameters(), encoding="utf-8")

    (out / PREREGISTRATION_DIR).mkdir(exist_ok=True)
    for cid, record in records.items():  # the waves' plans, as `mallwake plan` writes them
        (out / PREREGISTRATION_DIR / f"{cid}.json").write_text(record_json(record), encoding="utf-8")
    _write_parquet(uplift, out / "truth_uplift.parquet")

    counts = members["tier"].value_counts(normalize=True)
    end_idx = m.D
    lat_out = lat.assign(
        alive_at_end=lat["alive_to"].to_numpy() >= end_idx,
        dropout_date=(m.start + pd.to_timedelta(np.minimum(lat["join_idx"] + lat["lifetime_days"], 10**5), unit="D")).dt.strftime(
            "%Y-%m-%d"
        ),
    )[
        [
            "member_id",
            "member_type",
            "rate_per_month",
            "ticket",
            "lifetime_days",
            "dropout_date",
            "alive_at_end",
            "car_owner",
            "wifi_user",
            "ghost",
            "duplicate_card",
        ]
    ]
    _write_parquet(lat_out, out / "truth_members.parquet")
    truth = {
        "generator": "analysis.statistics.synthetic.generate_mall",
        "seed": seed,
        "n_members": n_members,
        "start": start,
        "end": end,
        "as_of": end,
        "study": study,
        "tiers": {
            "levels": ["normal", "silver", "gold", "platinum"],
            "rule": "best calendar-year spend",
            "thresholds": TIER_THRESHOLDS,
            "shares": {t: float(counts.get(t, 0.0)) for t in ("normal", "silver", "gold", "platinum")},
        },
        "member_types": {k: {kk: vv for kk, vv in v.items()} for k, v in MEMBER_TYPES.items()},
        "member_type_shares_realised": {
            k: float(v) for k, v in lat["member_type"].value_counts(normalize=True).sort_index().items()
        },
        "purchase_process": {
            "rate": "gamma(shape=3, mean=type rate) purchases per month while alive",
            "lifetime": "exponential(mean=type lifetime months) after joining",
            "browse_visit_ratio": BROWSE_RATIO,
            "p_parking_record": P_PARK,
            "p_wifi_record": P_WIFI,
        },
        "invalid_sleepers": {"ghost_members": int(lat["ghost"].sum()), "duplicate_cards": int(lat["duplicate_card"].sum())},
        "sleeping_rule": {"tier": "gold", "sleeping_days": SLEEPING_DAYS, "presence_lookback_days": PRESENCE_LOOKBACK_DAYS},
        "costs": {"contact_cost": CONTACT_COST, "gift_cost_if_redeemed": GIFT_COST, "reach": REACH},
        "campaigns": wave_truth,
        "uplift": {
            "drivers": {k: (list(v) if isinstance(v, tuple) else v) for k, v in UPLIFT_DRIVERS.items()},
            "file": "truth_uplift.parquet",
            "definition": "each listed member's true incremental return probability from each treated arm: "
            "(1 - natural return probability) x P(reached) x min(arm effect x multiplier, 0.95)",
        },
        **_design_truth(wave_truth),
    }
    (out / "truth.json").write_text(json.dumps(truth, indent=2, ensure_ascii=False, sort_keys=True) + "\n", encoding="utf-8")
    return out


#: Display names of the demo's arms, channels and gifts (English, Chinese), written to its mallwake.yaml.
DISPLAY_NAMES = {
    "holdout": ("Holdout", "对照组"),
    "sms_daily": ("SMS, daily-use gift", "短信＋日用礼品"),
    "call_wechat_ent": ("Call + WeChat, entertainment gift", "电话＋微信＋娱乐礼品"),
    "sms_ent": ("SMS, entertainment gift", "短信＋娱乐礼品"),
    "call_wechat_daily": ("Call + WeChat, daily-use gift", "电话＋微信＋日用礼品"),
    "sms": ("SMS", "短信"),
    "call_wechat": ("Call + WeChat", "电话＋微信"),
    "daily": ("Daily-use gift", "日用礼品"),
    "entertainment": ("Entertainment gift", "娱乐礼品"),
    "none": ("none", "无"),
}


def _study_parameters() -> str:
    """The data folder's ``mallwake.yaml``: the study's roles of the demo's waves, read by the runner."""
    before, after, factorial = WAVES
    list_date = (pd.Timestamp(before.start_date) - pd.Timedelta(days=1)).date()
    thresholds = ",".join(f"{t}:{v:g}" for t, v in TIER_THRESHOLDS.items())
    return (
        "# The study's roles in synthetic Mall A, read by `mallwake run` as defaults for every notebook that\n"
        "# declares them (a -p NAME=VALUE on the command line wins). Any mall can keep its own defaults\n"
        "# here: tier levels (lowest first), thresholds, which campaigns are the before/after/factorial waves.\n"
        f"tiers: [{', '.join(DEFAULT_TIERS)}]\n"
        f'tier_thresholds: "{thresholds}"\n'
        "target_tier: gold\n"
        f'list_date: "{list_date}"  # the naive list of the before wave was drawn the day before it started\n'
        f"naive_campaign: {before.campaign_id}\n"
        f"before_campaign: {before.campaign_id}\n"
        "before_arm: sms_daily\n"
        f"after_campaign: {after.campaign_id}\n"
        "after_arm: call_wechat_ent\n"
        f"factorial_campaign: {factorial.campaign_id}\n"
        "gift_levels: daily,entertainment  # reference, alternative\n"
        "channel_levels: sms,call_wechat\n"
        "uplift_features: recency_days,frequency,monetary,tenure_days,tier,district  # pre-campaign features and attributes\n"
        'currency: "¥"  # money in the reports\n'
        "# how the data's labels read in the reports (English and Chinese); unlisted labels show as they are\n"
        "display_names:\n" + "".join(f'  {raw}: {{en: "{en}", zh: "{zh}"}}\n' for raw, (en, zh) in DISPLAY_NAMES.items())
    )


def _write_csv(df: pd.DataFrame, path: Path) -> None:
    tmp = path.with_suffix(path.suffix + ".tmp")
    df.to_csv(tmp, index=False, lineterminator="\n", float_format="%.2f")
    tmp.replace(path)


def _write_parquet(df: pd.DataFrame, path: Path) -> None:
    tmp = path.with_suffix(path.suffix + ".tmp")
    df.to_parquet(tmp, index=False, compression="zstd")
    tmp.replace(path)


#: Data shapes real malls and public data sets bring, made from a generated mall (see :func:`make_shape`).
SHAPES = (
    "no_campaigns",
    "one_campaign_no_history",
    "one_tier",
    "no_visits",
    "no_costs",
    "no_demographics",
    "short_history",
    "ties",
    "purchases_only",
    "visits_after_list",
    "losing_promotion",
)

#: Member columns that say whether a member can be reached or is the same person as another.
_REACH_COLUMNS = ("phone_valid", "wechat_bound", "opt_out", "phone", "plate")


def make_shape(src: str | Path, dst: str | Path, shape: str) -> Path:
    """Copy the mall in ``src`` to ``dst`` reshaped like a real data set unlike the demo.

    ``no_campaigns``: purchases and no campaign tables; ``one_campaign_no_history``: one
    randomized campaign (the factorial wave) and no purchase or visit before its start;
    ``one_tier``: every member in one tier (``member``); ``no_visits``: no visits table;
    ``no_costs``: contacts without cost columns; ``no_demographics``: members with only the
    required columns; ``short_history``: the last 60 days, so no member bought twice in most
    windows; ``ties``: whole-unit amounts and at most two purchases per member;
    ``purchases_only``: no visits and no reachability, opt-out or phone columns (nothing can
    refine a sleeping list); ``visits_after_list``: the same, except visits kept where they are a
    campaign's outcomes (a contacted member's visits inside its response window), like web visits
    the day after an e-mail; ``losing_promotion``: a promotion test, each campaign's treated
    arms pooled into one ``promo`` arm against its holdout, a contact costing 5,000 (far above
    what it brings back), so the promotion loses money at any margin. The input is not changed; ``truth*`` and ``mallwake.yaml`` are not copied (they describe the demo's study).
    """
    if shape not in SHAPES:
        raise ValueError(f"shape must be one of {', '.join(SHAPES)}, not {shape!r}")
    src, dst = Path(src), Path(dst)
    shutil.copytree(src, dst, ignore=shutil.ignore_patterns("truth*", DATA_PARAMS_FILE))
    members = pd.read_csv(dst / "members.csv", dtype=str)
    tx = pd.read_parquet(dst / "transactions.parquet")
    visits = pd.read_parquet(dst / "visits.parquet")
    campaigns = pd.read_csv(dst / "campaigns.csv", dtype=str)
    contacts = pd.read_csv(dst / "contacts.csv", dtype=str)
    if shape == "no_campaigns":
        (dst / "campaigns.csv").unlink()
        (dst / "contacts.csv").unlink()
    elif shape == "one_campaign_no_history":
        last = campaigns.iloc[[-1]]
        start = pd.Timestamp(last["start_date"].iloc[0])
        _write_csv(last, dst / "campaigns.csv")
        _write_csv(contacts[contacts["campaign_id"] == last["campaign_id"].iloc[0]], dst / "contacts.csv")
        _write_parquet(tx[tx["ts"] >= start], dst / "transactions.parquet")
        _write_parquet(visits[visits["ts"] >= start], dst / "visits.parquet")
    elif shape == "one_tier":
        members["tier"] = "member"
        _write_csv(members, dst / "members.csv")
    elif shape == "no_visits":
        (dst / "visits.parquet").unlink()
    elif shape == "no_costs":
        _write_csv(contacts.drop(columns=["contact_cost", "gift_cost"]), dst / "contacts.csv")
    elif shape == "no_demographics":
        _write_csv(members[["member_id", "join_date", "tier"]], dst / "members.csv")
    elif shape == "short_history":
        end = tx["ts"].max()
        start = (end - pd.Timedelta(days=60)).normalize()
        keep = tx[tx["ts"] >= start]
        keep = keep[~keep.duplicated("member_id")]  # nobody bought twice
        _write_parquet(keep, dst / "transactions.parquet")
        _write_parquet(visits[visits["ts"] >= start], dst / "visits.parquet")
        members = members[pd.to_datetime(members["join_date"]) <= end]
        _write_csv(members, dst / "members.csv")
        camp = campaigns[pd.to_datetime(campaigns["start_date"]) >= start]
        _write_csv(camp, dst / "campaigns.csv")
        _write_csv(contacts[contacts["campaign_id"].isin(camp["campaign_id"])], dst / "contacts.csv")
    elif shape in ("purchases_only", "visits_after_list"):
        _write_csv(members.drop(columns=[c for c in _REACH_COLUMNS if c in members.columns]), dst / "members.csv")
        (dst / "visits.parquet").unlink()
        if shape == "visits_after_list":
            windows = contacts[["campaign_id", "member_id"]].merge(
                campaigns[["campaign_id", "start_date", "response_days"]], on="campaign_id"
            )
            start = pd.to_datetime(windows["start_date"])
            windows = windows.assign(start=start, end=start + pd.to_timedelta(windows["response_days"].astype(int), unit="D"))
            v = visits.merge(windows[["member_id", "start", "end"]], on="member_id")
            v = v[(v["ts"] >= v["start"]) & (v["ts"] < v["end"])].drop(columns=["start", "end"]).drop_duplicates()
            _write_parquet(v, dst / "visits.parquet")
    elif shape == "losing_promotion":
        promo = contacts["arm"] != "holdout"
        contacts = contacts.assign(
            arm=contacts["arm"].where(~promo, "promo"), contact_cost=np.where(promo, "5000.00", "0.00"), gift_cost="0.00"
        )
        _write_csv(contacts, dst / "contacts.csv")
    elif shape == "ties":
        tx = tx.assign(amount=tx["amount"].round(-2).clip(lower=100.0))
        tx = tx[tx.groupby("member_id", observed=True).cumcount() < 2]
        _write_parquet(tx, dst / "transactions.parquet")
    return dst
