"""Lists to act on: member lists written as CSV and Excel for the call centre and the CRM.

The reports show pseudonyms only; a list the wake-up team works from needs the raw member ids.
Such lists go to the run's exports folder (``exports/<label>/``, beside the report site, never
inside it and never linked from a report), and the report says which file holds how many rows.
Column names are codes (a CRM imports them); the words in the cells (the reason, the watch) are
in the report's language. CSV files are UTF-8 with a byte-order mark, so Excel opens Chinese text correctly; the ``.xlsx``
copy (written by rust_xlsxwriter) keeps dates and numbers typed, and writes text as text: a value from the
data that starts with ``=`` is never a formula.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import ibis
import numpy as np
import pandas as pd
from rustpy_xlsxwriter import write_worksheet

from analysis.data.dataset import MallData
from analysis.data.storage import atomic_write
from analysis.presentation.definitions import COLUMN_TERMS, term
from analysis.presentation.formats import display_name
from analysis.presentation.i18n import tr
from analysis.presentation.phrases import RULE_LABELS

#: Columns a call centre needs about each member, from the members table (when the data have them).
CONTACT_COLUMNS = ("tier", "phone_valid", "wechat_bound", "opt_out")


@dataclass(frozen=True)
class ExportedList:
    """Where a list went and how many members it holds."""

    name: str
    rows: int
    files: tuple[Path, ...]

    def sentence(self) -> str:
        """One sentence for the report (file names only: the folder is the run's exports folder)."""
        names = tr(" and ").join(f"`{p.name}`" for p in self.files)
        return tr(
            "The list ({rows:,} members, with raw member ids) is in {files} in the run's exports folder (`exports/<run>/`, "
            "outside the report site: keep it private).",
            rows=self.rows,
            files=names,
        )


def contact_details(data: MallData, member_ids: pd.Series, as_of) -> pd.DataFrame:
    """Tier, reachability and last purchase of ``member_ids`` (one row each, in their order).

    ``reachable_by_sms`` / ``reachable_by_wechat``: a valid phone / a bound WeChat and not opted
    out (empty where the data do not record it: unknown, not "no").
    """
    m = data.members
    d = data.purchase_days  # one row per member and day with a purchase: fewer rows than the transactions
    d = d.filter(d.day <= ibis.literal(pd.Timestamp(as_of).date()))
    if not data.in_engine:  # the listed members alone (in a source's engine this would be a table written there)
        listed = ibis.memtable(
            pd.DataFrame({"member_id": pd.unique(np.asarray(member_ids, dtype=object))}), schema={"member_id": "string"}
        )
        m, d = m.semi_join(listed, "member_id"), d.semi_join(listed, "member_id")
    cols = ["member_id", *[c for c in CONTACT_COLUMNS if c in m.columns]]
    members = m.select(*cols).to_pandas()
    last = d.group_by("member_id").aggregate(last_purchase=d.day.max()).to_pandas()
    out = pd.DataFrame({"member_id": member_ids.to_numpy()}).merge(members, on="member_id", how="left")
    out = out.merge(last, on="member_id", how="left")
    out["last_purchase"] = pd.to_datetime(out["last_purchase"]).dt.date
    opted = out["opt_out"].astype("boolean") if "opt_out" in out else pd.Series(pd.NA, index=out.index, dtype="boolean")
    for col, flag in (("reachable_by_sms", "phone_valid"), ("reachable_by_wechat", "wechat_bound")):
        if flag in out:
            out[col] = out[flag].astype("boolean") & ~opted.fillna(False)
    return out.drop(columns=[c for c in ("phone_valid", "wechat_bound") if c in out])


def write_list(frame: pd.DataFrame, export_dir: str | Path, name: str) -> ExportedList | None:
    """Write ``frame`` as ``<name>.csv`` and ``<name>.xlsx`` into ``export_dir`` (nothing when it is
    empty, as in a notebook run outside the runner). Each file appears whole or not at all."""
    if not export_dir:
        return None
    folder = Path(export_dir)
    folder.mkdir(parents=True, exist_ok=True)
    csv, xlsx = folder / f"{name}.csv", folder / f"{name}.xlsx"
    # owner-only: the files hold raw member ids
    atomic_write(csv, lambda tmp: frame.to_csv(tmp, index=False, encoding="utf-8-sig"), mode=0o600)
    atomic_write(xlsx, lambda tmp: write_xlsx(frame, tmp, name[:31]), mode=0o600)
    return ExportedList(name, len(frame), (csv, xlsx))


def _worded(values: pd.Series, words, key=None) -> np.ndarray:
    """``words(v)`` for each value, worded once per distinct value, or per distinct ``key(v)`` (the
    value as the words show it: a risk as a whole percentage), with the first value of each as
    the one worded. A million members' lists have few distinct reasons: 153,000 calls of ``tr``
    took 3 s, 50,000 risks 2.8 s."""
    keys = values if key is None else values.map(key)
    codes, _uniques = pd.factorize(keys, use_na_sentinel=False)
    _codes, first = np.unique(codes, return_index=True)
    worded = np.array([words(v) for v in values.iloc[first]], dtype=object)
    return worded[codes]


def write_xlsx(frame: pd.DataFrame, path: str | Path, sheet: str) -> None:
    """``frame`` as one sheet (a bold header row, no index): numbers, booleans and dates typed,
    missing values as empty cells, text always as text (a value from the data starting with ``=`` is
    never a formula, a URL never a link).

    Written by rust_xlsxwriter (``rustpy-xlsxwriter``): a million members' downgrade list (153,083 x 9)
    in 0.8 s, against 12.7 s with XlsxWriter cell by cell and 23.2 s with ``DataFrame.to_excel``
    (benchmarks/RESULTS.md); the same sheet read back."""
    stamps = [c for c in frame.columns if pd.api.types.is_datetime64_any_dtype(frame[c])]
    with_time = any((frame[c].dropna().dt.normalize() != frame[c].dropna()).any() for c in stamps)
    write_worksheet(
        frame,
        str(path),
        sheet_name=sheet,
        bold_headers=True,
        datetime_format="yyyy-mm-dd hh:mm:ss" if with_time else "yyyy-mm-dd",
    )


def sleeping_contact_list(data: MallData, sleeping) -> pd.DataFrame:
    """Every member of the naive sleeping list: ``to_contact`` (on the refined list), the
    ``reason`` (asleep and reachable, or the first rule that removed them), days since the last
    purchase on the list date, and the contact details."""
    m = sleeping.members
    reason = m["removed_by"].map(lambda r: tr(RULE_LABELS.get(r, r)) if isinstance(r, str) and r else None)
    asleep = tr("asleep: no purchase for {days}+ days, still reachable", days=sleeping.sleeping_days)
    base = pd.DataFrame(
        {
            "member_id": m["member_id"].to_numpy(),
            "to_contact": m["refined"].astype(bool).to_numpy(),
            "reason": reason.fillna(asleep).to_numpy(),
            "days_since_purchase": m["days_since_purchase"].to_numpy(),
        }
    )
    out = base.merge(contact_details(data, base["member_id"], sleeping.list_date), on="member_id", how="left")
    return out.sort_values(["to_contact", "days_since_purchase"], ascending=[False, True], kind="stable").reset_index(drop=True)


def next_wave_list(data: MallData, choice, as_of) -> pd.DataFrame:
    """The members a :class:`~analysis.statistics.uplift.ListChoice` chose, in its order, with the arm to
    contact each with, the expected incremental return and cost, and the contact details."""
    c = choice.chosen
    base = pd.DataFrame(
        {
            "member_id": c["member_id"].to_numpy(),
            "rank": range(1, len(c) + 1),
            "arm": c["arm"].to_numpy(),
            "expected_incremental_return": c["uplift"].round(4).to_numpy(),
            "expected_cost": c["cost"].to_numpy(),
        }
    )
    return base.merge(contact_details(data, base["member_id"], as_of), on="member_id", how="left")


def high_risk_list(data: MallData, scored: pd.DataFrame, as_of, threshold: float = 0.5) -> pd.DataFrame:
    """Members whose predicted risk of falling asleep is at least ``threshold``, highest first,
    with the reason (the risk and the days since the last purchase) and the contact details."""
    top = scored[scored["risk"] >= threshold].sort_values("risk", ascending=False, kind="stable")
    base = pd.DataFrame(
        {
            "member_id": top["member_id"].to_numpy(),
            "risk": top["risk"].round(4).to_numpy(),
            "days_since_purchase": top["recency_days"].to_numpy(),
            "reason": _worded(
                top["risk"], lambda r: tr("risk of falling asleep {risk:.0%}", risk=r), key=lambda r: format(r, ".0%")
            ),
        }
    )
    return base.merge(contact_details(data, base["member_id"], as_of), on="member_id", how="left")


def downgrade_list(data: MallData, rules: pd.DataFrame, as_of) -> pd.DataFrame:
    """Members with a downgrade early warning: their tier, the tier their pace earns and the
    spend they are short by at the next review, with the contact details."""
    warn = rules[rules["downgrade_warning"]].sort_values("shortfall", ascending=False, kind="stable")
    base = pd.DataFrame(
        {
            "member_id": warn["member_id"].to_numpy(),
            "pace_earns": warn["qualifies_for"].astype(str).to_numpy(),
            "shortfall": warn["shortfall"].round(2).to_numpy(),
            "reason": _worded(warn["qualifies_for"].astype(str), lambda q: tr("yearly pace earns {tier}", tier=display_name(q))),
        }
    )
    return base.merge(contact_details(data, base["member_id"], as_of), on="member_id", how="left")


def monthly_watch_list(data: MallData, about: pd.DataFrame, down: pd.DataFrame, month) -> pd.DataFrame:
    """The monthly report's watch list by member: those about to fall asleep and those with a
    downgrade warning (one row per member and reason), with the contact details at month end."""
    end = pd.Timestamp(month) + pd.offsets.MonthEnd(0)
    rows = pd.concat(
        [
            pd.DataFrame(
                {
                    "member_id": about["member_id"].to_numpy(),
                    "watch": term(COLUMN_TERMS["about_to_sleep"]),
                    "reason": _worded(about["days_since"], lambda d: tr("{days:,} days since the last purchase", days=int(d))),
                }
            ),
            pd.DataFrame(
                {
                    "member_id": down["member_id"].to_numpy(),
                    "watch": term(COLUMN_TERMS["downgrade_warning"]),
                    "reason": _worded(
                        down["qualifies_for"].astype(str), lambda q: tr("yearly pace earns {tier}", tier=display_name(q))
                    ),
                }
            ),
        ],
        ignore_index=True,
    )
    return rows.merge(contact_details(data, rows["member_id"].drop_duplicates(), end), on="member_id", how="left")
