"""The campaign loop's plan, assign and pre-register steps, and the sample-ratio check that judges
the assignment afterwards.

A *plan* is a small YAML file (see ``docs`` in README: "Plan the next wave"): the campaign, its
start date, the list (the refined sleeping list of a tier), the arms with their shares, channels,
gifts and costs, the control arm, the strata, the primary outcome and its response window, alpha,
power and the minimum detectable lift, and a seed. :func:`make_plan` turns it into

* the contact file, in the data contract's ``contacts`` form (``campaign_id``, ``member_id``,
  ``arm``, ``channel``, ``gift``, ``contact_cost``, ``gift_cost``) for the campaign team: members
  randomized into the arms *within each stratum* (blocked), seeded, byte-identical for the same
  inputs;
* the balance of pre-campaign covariates across arms (standardized mean differences);
* the power of the planned allocation for the minimum detectable lift (and the list size needed);
* the pre-registration record: everything above that the evaluation must not change afterwards,
  with the SHA-256 of the contact file.

:func:`srm_test` compares arm sizes with the planned allocation (chi-square goodness of fit,
flagged at p < 0.001, the threshold experimentation platforms use).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import json
import re
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, ClassVar, Literal

import numpy as np
import pandas as pd
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, field_validator, model_validator
from scipy import stats

from analysis.data.config import PREREGISTRATION_DIR
from analysis.data.params import ParameterError
from analysis.data.settings import did_you_mean, read_regular_file, read_settings_file, validation_message
from analysis.data.sources import settings_path
from analysis.data.storage import UnsafeNameError, atomic_write, check_label
from analysis.statistics import campaigns as cp
from analysis.statistics.campaigns import RECENCY_BAND_EDGES, band_labels, estimate_arm_effects, has_contacts
from analysis.statistics.features import compute_member_features
from analysis.statistics.results import Phrase, Result
from analysis.statistics.segmentation import add_age_band
from analysis.statistics.sleeping import CHANNEL_NEEDS, build_sleeping_list

#: Arm sizes that differ from the plan with p below this are flagged (sample-ratio mismatch).
SRM_THRESHOLD = 0.001
#: |standardized mean difference| above this is an imbalance worth a look.
SMD_LIMIT = 0.1
CONTACT_COLUMNS = ("campaign_id", "member_id", "arm", "channel", "gift", "contact_cost", "gift_cost")
PREREGISTRATION = "preregistration.json"


# --- sample ratio -----------------------------------------------------------------------------


@dataclass(frozen=True)
class SRMResult(Result):
    """Observed arm sizes against the planned allocation (chi-square goodness of fit)."""

    arms: pd.DataFrame  # arm, planned_share, observed, expected, observed_share
    chi2: float
    p_value: float
    threshold: float = SRM_THRESHOLD
    kinds: ClassVar[dict] = {"planned_share": "percent", "observed_share": "percent", "observed": "count", "expected": "number"}

    @property
    def flagged(self) -> bool:
        return bool(self.p_value < self.threshold)

    def table(self) -> pd.DataFrame:
        return self.arms

    @property
    def testable(self) -> bool:
        """Whether there is a ratio to test: at least two planned arms and one member."""
        return len(self.arms) >= 2 and int(self.arms["observed"].sum()) > 0

    def sentence(self) -> Phrase:
        """The test's verdict: ``plan.srm`` (the arm sizes differ from the plan), ``plan.srm_ok``, or
        ``plan.srm_one_arm`` / ``plan.srm_no_members`` when there is no ratio to test."""
        if not self.testable:
            return Phrase.of("plan.srm_one_arm" if len(self.arms) < 2 else "plan.srm_no_members", n=len(self.arms))
        return Phrase.of("plan.srm" if self.flagged else "plan.srm_ok", chi2=self.chi2, p=self.p_value)


def srm_test(observed: dict[str, int], planned: dict[str, float], threshold: float = SRM_THRESHOLD) -> SRMResult:
    """Sample-ratio-mismatch test of ``observed`` arm sizes against ``planned`` shares."""
    arms = list(planned)
    missing = set(observed) - set(arms)
    if missing:
        raise ValueError(f"arms {sorted(missing)} are not in the planned allocation {arms}")
    n = np.array([int(observed.get(a, 0)) for a in arms], dtype=float)
    share = np.array([float(planned[a]) for a in arms])
    share = share / share.sum()
    expected = n.sum() * share
    if len(arms) < 2 or n.sum() == 0:  # one arm, or nobody: no ratio to test (unknown, not "as planned")
        chi2, p = np.nan, np.nan
    else:
        chi2, p = stats.chisquare(n, expected)
    table = pd.DataFrame(
        {
            "arm": arms,
            "planned_share": share,
            "observed": n.astype(int),
            "expected": expected,
            "observed_share": n / n.sum() if n.sum() else np.nan,
        }
    )
    return SRMResult(table, float(chi2), float(p), threshold)


# --- assignment -------------------------------------------------------------------------------


def _stratum_seed(seed: int, key: str) -> list[int]:
    return [int(seed), zlib.crc32(key.encode("utf-8"))]


def _sizes(n: int, shares: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Integer arm sizes summing to ``n``, as close to ``n * shares`` as possible (largest
    remainders; ties broken at random, so no arm is favoured across strata)."""
    exact = n * shares
    sizes = np.floor(exact).astype(int)
    left = n - sizes.sum()
    if left:
        order = np.lexsort((rng.random(len(shares)), -(exact - sizes)))
        sizes[order[:left]] += 1
    return sizes


def assign_arms(members: pd.DataFrame, shares: dict[str, float], strata: list[str], seed: int) -> pd.DataFrame:
    """Randomize ``members`` (``member_id`` and the ``strata`` columns) into arms within each
    stratum. Same members, shares, strata and seed: the same assignment, whatever the row order."""
    arms = list(shares)
    share = np.array([shares[a] for a in arms], dtype=float)
    share = share / share.sum()
    frame = members.sort_values("member_id", kind="stable").reset_index(drop=True)
    keys = pd.Series("all", index=frame.index)
    if strata:
        keys = frame[strata[0]].astype(str)
        for s in strata[1:]:
            keys = keys + "|" + frame[s].astype(str)
    out = []
    for key, positions in sorted(keys.groupby(keys).indices.items()):
        block = frame.iloc[positions]
        rng = np.random.default_rng(_stratum_seed(seed, key))
        order = rng.permutation(len(block))
        labels = np.repeat(arms, _sizes(len(block), share, rng))
        assigned = block.iloc[order].assign(stratum=key, arm=labels)
        out.append(assigned)
    result = pd.concat(out, ignore_index=True) if out else frame.assign(stratum=pd.Series(dtype=str), arm=pd.Series(dtype=str))
    return result.sort_values("member_id", kind="stable").reset_index(drop=True)


def balance_table(frame: pd.DataFrame, covariates: list[str], control_arm: str, arm: str = "arm") -> pd.DataFrame:
    """Standardized mean difference of each covariate, each treated arm against ``control_arm``.

    Categorical covariates count as one 0/1 column per level. ``|smd| > 0.1`` is flagged.
    """
    cols = {}
    for c in covariates:
        if c not in frame.columns:
            continue
        if pd.api.types.is_numeric_dtype(frame[c]) and not pd.api.types.is_bool_dtype(frame[c]):
            cols[c] = frame[c].astype(float)
        else:
            for level in sorted(frame[c].dropna().astype(str).unique()):
                cols[f"{c} = {level}"] = (frame[c].astype(str) == level).astype(float)
    x = pd.DataFrame(cols)
    control = x[frame[arm] == control_arm]
    rows = []
    for a in [a for a in frame[arm].unique() if a != control_arm]:
        treated = x[frame[arm] == a]
        for c in x.columns:
            m1, m0 = treated[c].mean(), control[c].mean()
            pooled = np.sqrt((treated[c].var() + control[c].var()) / 2)
            smd = (m1 - m0) / pooled if pooled > 0 else 0.0
            rows.append(
                {
                    "arm": a,
                    "covariate": c,
                    "treated_mean": m1,
                    "control_mean": m0,
                    "smd": smd,
                    "balanced": bool(abs(smd) <= SMD_LIMIT),
                }
            )
    return pd.DataFrame(rows, columns=["arm", "covariate", "treated_mean", "control_mean", "smd", "balanced"])


def allocation_power(
    baseline_rate: float, min_lift: float, n_total: int, shares: dict[str, float], control_arm: str, alpha: float = 0.05
) -> pd.DataFrame:
    """Power of each treated arm against the control to detect ``min_lift`` (absolute) over
    ``baseline_rate``, with ``n_total`` members split by ``shares`` (two-sided, Cohen's h)."""
    from statsmodels.stats.power import NormalIndPower
    from statsmodels.stats.proportion import proportion_effectsize

    total = sum(shares.values())
    n_c = n_total * shares[control_arm] / total
    h = abs(proportion_effectsize(min(baseline_rate + min_lift, 0.9999), baseline_rate))
    rows = []
    for a, s in shares.items():
        if a == control_arm:
            continue
        n_t = n_total * s / total
        pw = NormalIndPower().power(effect_size=h, nobs1=n_t, alpha=alpha, ratio=n_c / n_t) if n_t > 0 and n_c > 0 else 0.0
        rows.append(
            {
                "arm": a,
                "members": int(round(n_t)),
                "control": int(round(n_c)),
                "min_detectable_lift": min_lift,
                "power": float(pw),
            }
        )
    return pd.DataFrame(rows)


def list_size_needed(
    baseline_rate: float, min_lift: float, shares: dict[str, float], control_arm: str, alpha: float = 0.05, power: float = 0.8
) -> int:
    """The smallest list whose every treated arm reaches ``power`` for ``min_lift`` with ``shares``."""
    lo, hi = 2, 2
    while allocation_power(baseline_rate, min_lift, hi, shares, control_arm, alpha)["power"].min() < power:
        lo, hi = hi, hi * 2
        if hi > 10**9:
            raise ValueError("no list size reaches the power asked for")
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if allocation_power(baseline_rate, min_lift, mid, shares, control_arm, alpha)["power"].min() >= power:
            hi = mid
        else:
            lo = mid
    return hi


# --- the plan ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class PlanSpec:
    """What a plan file says (see the module's docstring); checked on reading."""

    campaign_id: str
    start_date: str
    arms: dict[str, dict]
    control_arm: str
    tier: str = "gold"
    sleeping_days: int = 180
    lookback_days: int = 90
    channel: str = "call_wechat"
    strata: tuple[str, ...] = ("tier", "recency_band")
    primary_outcome: str = "return_rate"
    response_days: int = 30
    alpha: float = 0.05
    power: float = 0.8
    min_detectable_lift: float = 0.02
    baseline_rate: float | None = None
    seed: int = 1
    covariates: tuple[str, ...] = ("recency_days", "frequency", "monetary", "tier", "gender", "age_band")
    chosen_list: str | None = None  # a CSV with member_id (and arm): the list to randomize instead of the refined sleeping list
    source: str | None = None  # the plan file, for messages

    @property
    def shares(self) -> dict[str, float]:
        return {a: float(v["share"]) for a, v in self.arms.items()}


class _ArmFile(BaseModel):
    """One arm of a plan file."""

    model_config = ConfigDict(extra="forbid", strict=True)
    share: float = Field(gt=0, lt=1, description="the arm's share of the list")
    control: bool = False
    channel: str | None = Field(default=None, min_length=1)
    gift: str | None = Field(default=None, min_length=1)
    contact_cost: float | None = Field(default=None, ge=0, allow_inf_nan=False)
    gift_cost: float | None = Field(default=None, ge=0, allow_inf_nan=False)


def _iso_date(value):
    if isinstance(value, dt.date):
        return value
    if isinstance(value, str) and re.fullmatch(r"\d{4}-\d{2}-\d{2}", value.strip()):
        return dt.date.fromisoformat(value.strip())  # ValueError for 2024-13-40
    raise ValueError("must be a date written YYYY-MM-DD")


class PlanFile(BaseModel):
    """The schema of a plan file: every key, its type and range (``mallwake plan``)."""

    model_config = ConfigDict(extra="forbid", strict=True)
    campaign_id: str = Field(min_length=1, max_length=100)
    start_date: Annotated[dt.date, BeforeValidator(_iso_date)]
    arms: dict[str, _ArmFile] = Field(min_length=2)
    tier: str = Field(default="gold", min_length=1)
    sleeping_days: int = Field(default=180, ge=1, le=3650)
    lookback_days: int = Field(default=90, ge=1, le=3650)
    channel: Literal[tuple(CHANNEL_NEEDS)] = "call_wechat"  # type: ignore[valid-type]
    strata: list[str] = ["tier", "recency_band"]
    primary_outcome: Literal["return_rate"] = "return_rate"
    response_days: int = Field(default=30, ge=1, le=365)
    alpha: float = Field(default=0.05, gt=0, le=0.2)
    power: float = Field(default=0.8, gt=0, lt=1)
    min_detectable_lift: float = Field(default=0.02, gt=0, lt=1)
    baseline_rate: float | None = Field(default=None, gt=0, lt=1)
    seed: int = Field(default=1, ge=0)
    covariates: list[str] = ["recency_days", "frequency", "monetary", "tier", "gender", "age_band"]
    chosen_list: str | None = Field(default=None, min_length=1)

    @field_validator("strata", "covariates")
    @classmethod
    def _distinct(cls, names):
        if len(set(names)) != len(names):
            raise ValueError("names a column twice")
        return names

    @model_validator(mode="after")
    def _arms(self):
        controls = [a for a, v in self.arms.items() if v.control]
        if len(controls) != 1:
            raise ValueError(f"exactly one arm must be the control (control: true); found {', '.join(controls) or 'none'}")
        total = sum(v.share for v in self.arms.values())
        if abs(total - 1) > 1e-9:
            raise ValueError(f"the arms' shares add up to {total:g}, not 1")
        return self


def read_plan(path: str | Path) -> PlanSpec:
    """The plan file at ``path``, checked against :class:`PlanFile` (types, ranges, unknown and
    duplicate keys, anchors); :class:`ParameterError` naming the file and key when it is wrong.
    What the data must allow (the tier, the channels, the strata's columns) is checked by
    :func:`check_plan_against_data`."""
    from pydantic import ValidationError

    path = Path(path)
    raw = read_settings_file(path, "plan")
    if not isinstance(raw, dict):
        raise ParameterError(f"{path}: a plan is a YAML mapping (campaign_id, start_date, arms, ...)")
    try:
        spec = PlanFile.model_validate(raw)
    except ValidationError as err:
        raise ParameterError(validation_message(path, err, PlanFile)) from None
    try:
        check_label(spec.campaign_id, what="campaign_id")
    except UnsafeNameError as err:
        raise ParameterError(f"{path}: {err}") from None
    arms = {a: v.model_dump(exclude_none=True, exclude_defaults=False) for a, v in spec.arms.items()}
    for v in arms.values():
        if not v.get("control"):
            v.pop("control", None)
    chosen = None
    if spec.chosen_list:  # relative to the plan file; a regular file of bounded size (a FIFO would hang the reader)
        chosen = str((path.parent / spec.chosen_list).resolve())
        try:
            read_regular_file(chosen, "chosen list", MAX_LIST_BYTES)
        except ParameterError as err:
            raise ParameterError(f"{path}: 'chosen_list': {err}") from None
    fields = spec.model_dump(exclude={"arms", "start_date", "chosen_list", "strata", "covariates"})
    return PlanSpec(
        start_date=spec.start_date.isoformat(),
        arms=arms,
        control_arm=next(a for a, v in spec.arms.items() if v.control),
        strata=tuple(spec.strata),
        covariates=tuple(spec.covariates),
        chosen_list=chosen,
        source=str(path),
        **fields,
    )


def _has_contacts(data) -> bool:
    return has_contacts(data)


#: Columns of the list that name a member (or a date): never strata or covariates.
_NOT_A_COVARIATE = ("member_id", "join_date", "last_purchase")
#: A chosen list larger than this is not a list of members (a file is checked before it is read).
MAX_LIST_BYTES = 500_000_000
#: A stratum with more levels than this is not a stratum (each member would be its own).
MAX_STRATUM_LEVELS = 50


def check_plan_against_data(spec: PlanSpec, data, frame: pd.DataFrame | None = None) -> None:
    """:class:`ParameterError` (naming the plan file and key) when the plan names a tier or a
    channel the data do not have (before the list is drawn: ``frame`` None), or strata and
    covariates that are not columns of the list ``frame`` (or identify members, or have too many
    levels to stratify on)."""
    where = spec.source or "the plan"
    if frame is None:
        if not spec.chosen_list:
            tiers = sorted(set(data.members.select("tier").distinct().to_pandas()["tier"].dropna().astype(str)))
            if spec.tier not in tiers:
                raise ParameterError(f"{where}: 'tier': {spec.tier!r} is not a tier in the data (tiers: {', '.join(tiers)})")
        seen = (
            set(data.contacts.select("channel").distinct().to_pandas()["channel"].dropna().astype(str))
            if _has_contacts(data)
            else set()
        )
        allowed = sorted(seen | set(CHANNEL_NEEDS))
        for arm, v in spec.arms.items():
            if "channel" in v and v["channel"] not in allowed:
                raise ParameterError(
                    f"{where}: 'arms.{arm}.channel': {v['channel']!r} is not a channel of the data or of the "
                    f"reachability rules (channels: {', '.join(allowed)})"
                )
        return
    usable = [c for c in frame.columns if c not in _NOT_A_COVARIATE]
    for key, names in (("strata", spec.strata), ("covariates", spec.covariates)):
        for name in names:
            if name not in usable:
                why = (
                    "identifies members or is a date"
                    if name in frame.columns or name in ("phone", "plate", "wechat_id")
                    else "is not a column of the list"
                )
                raise ParameterError(
                    f"{where}: '{key}': {name!r} {why}{did_you_mean(name, usable)}; allowed: {', '.join(usable)}"
                )
    for name in spec.strata:  # a stratum needs members: at most 50 levels, and 5 members per level on average
        levels = frame[name].nunique(dropna=False)
        if levels > min(MAX_STRATUM_LEVELS, max(len(frame) / 5, 2)):
            raise ParameterError(
                f"{where}: 'strata': {name!r} has {levels:,} distinct values among {len(frame):,} members on the "
                f"list; a stratum column has at most {MAX_STRATUM_LEVELS} values and 5 members per value on "
                "average (use a banded column, e.g. recency_band or age_band)"
            )


def _list_members(data, spec: PlanSpec) -> tuple[pd.DataFrame, dict]:
    """The list on the day before the start, with the strata and covariates, and what the record
    says about it: the refined sleeping list, or the ``chosen_list`` (e.g. the campaign report's
    next_wave_list.csv, whose recommended arm becomes a stratum: every recommendation is split
    across all arms, so the wave can also judge the recommendations)."""
    list_date = (pd.Timestamp(spec.start_date) - pd.Timedelta(days=1)).date()
    feats = add_age_band(compute_member_features(data, pd.Timestamp(list_date), 365, categories=False))
    if spec.chosen_list:
        chosen = read_chosen_list(spec.chosen_list, set(feats["member_id"]), list_date)
        frame = chosen.merge(feats, on="member_id", how="left")
        info = {
            "rule": "chosen list",
            "file": Path(spec.chosen_list).name,
            "list_date": str(list_date),
            "members": int(len(frame)),
        }
    else:
        sl = build_sleeping_list(
            data,
            list_date,
            tier=spec.tier,
            sleeping_days=spec.sleeping_days,
            lookback_days=spec.lookback_days,
            channel=spec.channel,
        )
        chosen = sl.members.loc[sl.members["refined"], ["member_id", "days_since_purchase"]]
        frame = chosen.merge(
            feats.drop(columns=[c for c in ("days_since_purchase",) if c in feats.columns]), on="member_id", how="left"
        )
        frame["recency_days"] = frame["days_since_purchase"]
        info = {
            "rule": "refined sleeping list",
            "tier": spec.tier,
            "list_date": str(sl.list_date),
            "sleeping_days": spec.sleeping_days,
            "lookback_days": spec.lookback_days,
            "channel": spec.channel,
            "naive": int(sl.naive_size),
            "refined": int(sl.refined_size),
        }
    frame["recency_band"] = pd.cut(
        frame["recency_days"], [-np.inf, *RECENCY_BAND_EDGES, np.inf], labels=band_labels(RECENCY_BAND_EDGES)
    ).astype(str)
    return frame, info


def read_chosen_list(path: str | Path, members: set, list_date) -> pd.DataFrame:
    """``member_id`` (and ``recommended_arm`` from an ``arm`` column) of a chosen list;
    :class:`ParameterError` naming the file, column, rule and example rows when it is wrong."""
    path = read_regular_file(path, "chosen list", MAX_LIST_BYTES)
    try:
        raw = pd.read_csv(path, dtype=str)
    except (OSError, ValueError, pd.errors.ParserError) as err:
        raise ParameterError(f"{path}: cannot read the chosen list ({str(err).splitlines()[0]})") from None
    if "member_id" not in raw.columns:
        raise ParameterError(f"{path}: column 'member_id' is missing (the chosen list names its members)")
    rows = lambda bad: ", ".join(str(i + 2) for i in bad.index[:3])  # noqa: E731 (file rows: header is row 1)
    dup = raw[raw["member_id"].duplicated(keep=False)]
    if len(dup):
        raise ParameterError(
            f"{path}: column 'member_id' must be unique; {len(dup):,} rows repeat a member, e.g. rows {rows(dup)}"
        )
    unknown = raw[~raw["member_id"].isin(members)]
    if len(unknown):
        raise ParameterError(
            f"{path}: column 'member_id' must name members of the data who had joined by {list_date}; "
            f"{len(unknown):,} rows do not, e.g. rows {rows(unknown)}"
        )
    out = raw[["member_id"]].copy()
    if "arm" in raw.columns:
        out["recommended_arm"] = raw["arm"].fillna("none").to_numpy()
    return out


@dataclass(frozen=True)
class Plan(Result):
    """A planned wave: its contact file, balance, power and pre-registration record."""

    spec: PlanSpec
    contacts: pd.DataFrame = field(repr=False)
    assignment: pd.DataFrame = field(repr=False)
    balance: pd.DataFrame
    power: pd.DataFrame
    needed: int
    baseline_rate: float
    record: dict = field(repr=False)
    kinds: ClassVar[dict] = {"share": "percent", "members": "count", "power": "percent"}

    def table(self) -> pd.DataFrame:
        sizes = self.assignment["arm"].value_counts()
        return pd.DataFrame([{"arm": a, "share": s, "members": int(sizes.get(a, 0))} for a, s in self.spec.shares.items()])


def contacts_csv(contacts: pd.DataFrame) -> bytes:
    """The contact file's bytes (fixed column order, row order and number format: reproducible)."""
    buf = io.StringIO()
    contacts.to_csv(buf, index=False, lineterminator="\n", float_format="%.2f")
    return buf.getvalue().encode("utf-8")


def planned_contacts(spec: PlanSpec, assigned: pd.DataFrame) -> pd.DataFrame:
    """The contact file of an assignment (``member_id``, ``arm``): the contract's ``contacts`` form
    with each arm's channel, gift and planned costs (unknown costs stay empty)."""
    arm = assigned["arm"]
    return pd.DataFrame(
        {
            "campaign_id": spec.campaign_id,
            "member_id": assigned["member_id"],
            "arm": arm,
            "channel": arm.map(lambda a: spec.arms[a].get("channel", "none")),
            "gift": arm.map(lambda a: spec.arms[a].get("gift", "none")),
            "contact_cost": arm.map(lambda a: spec.arms[a].get("contact_cost", np.nan)),
            "gift_cost": arm.map(lambda a: spec.arms[a].get("gift_cost", np.nan)),
        }
    )[list(CONTACT_COLUMNS)]


def make_plan(data, spec: PlanSpec) -> Plan:
    """Draw the list, randomize it into the arms within strata, check balance and power, and
    write down the pre-registration record (nothing is written to disk here)."""
    check_plan_against_data(spec, data)
    frame, list_info = _list_members(data, spec)
    check_plan_against_data(spec, data, frame)
    if frame.empty:
        raise ParameterError(
            f"{spec.chosen_list}: the chosen list is empty: nothing to plan"
            if spec.chosen_list
            else f"the refined sleeping list of tier {spec.tier!r} on {spec.start_date} is empty: nothing to plan"
        )
    strata = list(spec.strata)
    if "recommended_arm" in frame.columns and "recommended_arm" not in strata:
        strata.append("recommended_arm")  # each recommendation split across all arms
    assigned = assign_arms(frame, spec.shares, strata, spec.seed)
    contacts = planned_contacts(spec, assigned)
    baseline = spec.baseline_rate
    source = "given in the plan"
    if baseline is None:  # the control arms of past waves, else a conservative 5 %
        baseline, source = 0.05, "assumed (no past holdout in the data)"
        if cp.has_contacts(data):
            o = cp.compute_campaign_outcomes(data)
            held = o[o["arm"] == spec.control_arm]
            if len(held):
                baseline, source = float(held["returned"].mean()), f"past holdouts ({len(held):,} members)"
    power = allocation_power(baseline, spec.min_detectable_lift, len(assigned), spec.shares, spec.control_arm, spec.alpha)
    needed = list_size_needed(baseline, spec.min_detectable_lift, spec.shares, spec.control_arm, spec.alpha, spec.power)
    balance = balance_table(assigned, list(spec.covariates), spec.control_arm)
    record = preregistration_record(
        spec,
        contacts,
        strata,
        planned_on=str(data.as_of),
        baseline=baseline,
        baseline_source=source,
        needed=needed,
        list_info=list_info,
    )
    return Plan(spec, contacts, assigned, balance, power, needed, baseline, record)


def preregistration_record(
    spec: PlanSpec,
    contacts: pd.DataFrame,
    strata: list[str],
    *,
    planned_on: str,
    baseline: float,
    baseline_source: str,
    needed: int | None,
    list_info: dict,
) -> dict:
    """What the evaluation must not change afterwards: the list, the arms and their allocation, the
    strata and seed, the primary outcome and its window, alpha, power, the minimum detectable lift,
    the analysis method, and the SHA-256 of the contact file (:func:`contacts_csv`)."""
    return {
        "campaign_id": spec.campaign_id,
        "start_date": spec.start_date,
        "planned_on_data_as_of": planned_on,
        "list": list_info,
        "arms": spec.arms,
        "control_arm": spec.control_arm,
        "allocation": spec.shares,
        "strata": list(strata),
        "seed": spec.seed,
        "primary_outcome": spec.primary_outcome,
        "response_days": spec.response_days,
        "alpha": spec.alpha,
        "power": spec.power,
        "min_detectable_lift": spec.min_detectable_lift,
        "baseline_rate": baseline,
        "baseline_rate_source": baseline_source,
        "list_size_needed": needed,
        "analysis_method": (
            "each treated arm's return rate minus the control's in the response window, Newcombe interval "
            f"at alpha {spec.alpha}; arm sizes checked against the allocation (sample-ratio test, "
            f"p < {SRM_THRESHOLD})"
        ),
        "members": int(len(contacts)),
        "assignment_sha256": hashlib.sha256(contacts_csv(contacts)).hexdigest(),
    }


def record_json(record: dict) -> str:
    """A pre-registration record as its file holds it (sorted keys: the same record, the same bytes)."""
    return json.dumps(record, indent=1, sort_keys=True, default=str) + "\n"


def write_plan(plan: Plan, folder: str | Path) -> list[Path]:
    """The contact file (raw member ids: owner-only), the balance table and the pre-registration
    record into ``folder`` (each file whole or not at all)."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    data = contacts_csv(plan.contacts)
    paths = [
        atomic_write(folder / "contacts.csv", lambda tmp: Path(tmp).write_bytes(data), mode=0o600),
        atomic_write(folder / "balance.csv", lambda tmp: plan.balance.to_csv(tmp, index=False, lineterminator="\n")),
        atomic_write(folder / PREREGISTRATION, lambda tmp: Path(tmp).write_text(record_json(plan.record), encoding="utf-8")),
    ]
    return paths


def read_preregistration(path: str | Path) -> dict:
    return json.loads(Path(path).read_text(encoding="utf-8"))


def check_against_plan(record: dict, contacts: pd.DataFrame) -> SRMResult:
    """The sample-ratio test of a campaign's contacts (``campaign_id``, ``arm``) against its record."""
    mine = contacts[contacts["campaign_id"] == record["campaign_id"]]
    return srm_test(mine["arm"].value_counts().to_dict(), record["allocation"])


def parse_allocation(text: str) -> dict[str, float]:
    """``"holdout:0.2,call_wechat_ent:0.4,sms_daily:0.4"`` -> ``{arm: share}``."""
    out = {}
    for part in [p for p in str(text).split(",") if p.strip()]:
        arm, _, share = part.partition(":")
        try:
            out[arm.strip()] = float(share)
        except ValueError:
            raise ParameterError(f"planned allocation {text!r}: {part!r} is not ARM:SHARE") from None
    return out


def _record_files(data_dir) -> dict[str, Path]:
    """``{campaign_id: path}`` of the records beside the data, found by listing their folder: a
    campaign id from the data never becomes a path. For a source: beside its connection file."""
    folder = settings_path(data_dir, PREREGISTRATION_DIR)
    return {p.stem: p for p in folder.glob("*.json")} if folder is not None and folder.is_dir() else {}


def judge_against_plans(data_dir, outcomes: pd.DataFrame, campaigns: pd.DataFrame) -> tuple[pd.DataFrame, list[str]]:
    """Every campaign with a pre-registration record, judged as it was planned: its primary outcome
    (each treated arm against the record's control arm, at the record's alpha) and what the wave
    did differently from the record (arms, start date, response window, members), one phrase each."""
    rows, deviations = [], []
    known = set(outcomes["campaign_id"])
    starts = campaigns.set_index("campaign_id") if len(campaigns) else pd.DataFrame()
    for cid, path in sorted(_record_files(data_dir).items()):
        if cid not in known:
            continue
        record = read_preregistration(path)
        o = outcomes[outcomes["campaign_id"] == cid]
        control = record.get("control_arm", "holdout")
        planned, seen = set(record.get("allocation") or {}), set(o["arm"])
        if seen - planned:
            deviations.append(Phrase.of("plan.extra_arms", campaign=cid, arms=tuple(sorted(seen - planned))))
        if planned - seen:
            deviations.append(Phrase.of("plan.missing_arms", campaign=cid, arms=tuple(sorted(planned - seen))))
        if cid in starts.index:
            row = starts.loc[cid]
            if record.get("start_date") and str(pd.Timestamp(row["start_date"]).date()) != str(record["start_date"]):
                deviations.append(
                    Phrase.of(
                        "plan.start", campaign=cid, actual=pd.Timestamp(row["start_date"]).date(), planned=record["start_date"]
                    )
                )
            if record.get("response_days") and int(row["response_days"]) != int(record["response_days"]):
                deviations.append(
                    Phrase.of("plan.window", campaign=cid, actual=int(row["response_days"]), planned=int(record["response_days"]))
                )
        if record.get("members") and int(record["members"]) != len(o):
            deviations.append(Phrase.of("plan.members", campaign=cid, actual=len(o), planned=int(record["members"])))
        if record.get("primary_outcome", "return_rate") != "return_rate" or control not in seen:
            continue
        alpha = float(record.get("alpha", 0.05))
        eff = estimate_arm_effects(o, control, alpha).table("return_rate")
        rows.append(
            eff.assign(alpha=alpha, outcome=Phrase.of("label.return_rate"))[
                ["campaign_id", "arm", "outcome", "n_treated", "n_control", "estimate", "ci_low", "ci_high", "p_value", "alpha"]
            ]
        )
    table = (
        pd.concat(rows, ignore_index=True)
        if rows
        else pd.DataFrame(
            columns=[
                "campaign_id",
                "arm",
                "outcome",
                "n_treated",
                "n_control",
                "estimate",
                "ci_low",
                "ci_high",
                "p_value",
                "alpha",
            ]
        )
    )
    return table, deviations


def assignment_checks(data_dir, outcomes: pd.DataFrame, planned_allocation: str = "") -> pd.DataFrame:
    """The sample-ratio check of every campaign: against its pre-registration record
    (``<data_dir>/preregistrations/<campaign_id>.json``) when there is one, else against
    ``planned_allocation`` when its arms are the campaign's, else none (``plan`` says which)."""
    given = parse_allocation(planned_allocation) if planned_allocation else {}
    records = _record_files(data_dir)
    rows = []
    for cid, grp in outcomes.groupby("campaign_id", sort=True):
        counts = grp["arm"].value_counts().to_dict()
        allocation, source = None, "no plan recorded"
        if str(cid) in records:
            allocation, source = read_preregistration(records[str(cid)]).get("allocation"), "pre-registration"
        elif given and set(given) == set(counts):
            allocation, source = given, "planned_allocation parameter"
        if allocation is None:
            rows.append(
                {
                    "campaign_id": cid,
                    "plan": source,
                    "members": int(len(grp)),
                    "chi2": np.nan,
                    "p_value": np.nan,
                    "verdict": "not checked",
                }
            )
            continue
        if set(counts) - set(allocation):  # arms the plan never had: the wave did not follow it
            rows.append(
                {
                    "campaign_id": cid,
                    "plan": source,
                    "members": int(len(grp)),
                    "chi2": np.nan,
                    "p_value": np.nan,
                    "verdict": "arms not in the plan",
                }
            )
            continue
        res = srm_test(counts, allocation)
        rows.append(
            {
                "campaign_id": cid,
                "plan": source,
                "members": int(len(grp)),
                "chi2": res.chi2,
                "p_value": res.p_value,
                "verdict": "MISMATCH" if res.flagged else "as planned" if res.testable else "nothing to compare",
            }
        )
    return pd.DataFrame(rows, columns=["campaign_id", "plan", "members", "chi2", "p_value", "verdict"])
