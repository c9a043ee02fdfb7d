"""Lists to act on: CSV and Excel member lists in the run's exports folder, never in the report
site, with the contact details a call centre needs, and the report saying how many rows went where."""

import datetime as dt
import re

import numpy as np
import pandas as pd
import pytest

from analysis.application import exports
from analysis.application.runner import run_reports
from analysis.data.dataset import load_dataset
from analysis.presentation import context
from analysis.presentation.context import Context


def test_contact_details_by_hand(tiny_dir):
    data = load_dataset(tiny_dir, as_of="2023-12-31")
    d = exports.contact_details(data, pd.Series(["A3", "A1", "A2", "ZZ"]), "2023-12-31").set_index("member_id")
    assert list(d.index) == ["A3", "A1", "A2", "ZZ"]  # in the order asked, unknown ids kept (empty)
    assert d.loc["A1", "last_purchase"] == pd.Timestamp("2023-05-01").date()  # the later of A1's two purchases
    assert d.loc["A1", "tier"] == "gold"
    # phone_valid true / false / "1"; no wechat_bound or opt_out column: WeChat reachability unknown, not "no"
    assert d.loc[["A1", "A2", "A3"], "reachable_by_sms"].tolist() == [True, False, True]
    assert d.loc[["A1", "A2", "A3"], "reachable_by_wechat"].isna().all()
    assert pd.isna(d.loc["ZZ", "tier"])


def test_contact_details_read_the_listed_members_alone_with_the_same_rows(small_mall, monkeypatch):
    """Locally only the listed members' rows are read (a semi-join on the list); the rows equal
    those of every member's details (the way taken in a source's engine), in the list's order."""
    data = load_dataset(small_mall)
    ids = data.members.select("member_id").to_pandas()["member_id"].sample(300, random_state=3)
    listed = pd.concat([ids, ids.iloc[:5], pd.Series(["nobody"])], ignore_index=True)  # repeats and an unknown id
    for as_of in (data.as_of, pd.Timestamp(data.as_of) - pd.Timedelta(days=200)):
        local = exports.contact_details(data, listed, as_of)
        monkeypatch.setattr(type(data), "in_engine", property(lambda self: True))
        everyone = exports.contact_details(data, listed, as_of)
        monkeypatch.undo()
        pd.testing.assert_frame_equal(local, everyone)
        assert local["member_id"].tolist() == listed.tolist() and local["last_purchase"].notna().sum() > 200


def test_write_list_gives_csv_and_excel_or_nothing(tmp_path):
    frame = pd.DataFrame(
        {
            "member_id": ["m1", "m2"],
            "tier": ["金卡", "gold"],
            "days_since_purchase": [200, 181],
            "last_purchase": [pd.Timestamp("2024-01-02").date(), None],
        }
    )
    assert exports.write_list(frame, "", "x") is None  # outside the runner: no export folder, no file
    out = exports.write_list(frame, tmp_path / "exp", "sleeping_list")
    assert out.rows == 2 and [p.name for p in out.files] == ["sleeping_list.csv", "sleeping_list.xlsx"]
    assert (tmp_path / "exp" / "sleeping_list.csv").read_bytes().startswith(b"\xef\xbb\xbf")  # Excel reads the UTF-8
    back = pd.read_csv(tmp_path / "exp" / "sleeping_list.csv", encoding="utf-8-sig")
    assert back["tier"].tolist() == ["金卡", "gold"]
    xl = pd.read_excel(tmp_path / "exp" / "sleeping_list.xlsx", engine="openpyxl")
    assert xl["member_id"].tolist() == ["m1", "m2"] and xl["days_since_purchase"].tolist() == [200, 181]
    assert not [p for p in (tmp_path / "exp").iterdir() if p.name.startswith(".")]  # no temporary file left
    assert "2 members" in out.sentence() and "exports" in out.sentence() and str(tmp_path) not in out.sentence()


def test_a_list_words_each_distinct_reason_once():
    """A million members' reasons have a handful of distinct values: each is worded once, in order."""
    calls = []
    words = exports._worded(pd.Series(["gold", "silver", "gold", "gold", "bronze"]), lambda v: calls.append(v) or f"earns {v}")
    assert list(words) == ["earns gold", "earns silver", "earns gold", "earns gold", "earns bronze"]
    assert calls == ["gold", "silver", "bronze"]
    assert len(exports._worded(pd.Series([], dtype=object), str)) == 0
    risks = pd.Series([0.514, 0.5149, 0.52, 0.514])  # worded as the sentence shows them: 51 %, 51 %, 52 %, 51 %
    calls.clear()
    worded = exports._worded(risks, lambda r: calls.append(r) or f"{r:.0%}", key=lambda r: format(r, ".0%"))
    assert list(worded) == ["51%", "51%", "52%", "51%"] and calls == [0.514, 0.52]


def test_the_excel_copy_keeps_types_and_never_turns_text_into_a_formula(tmp_path):
    """Text from the data is text (XlsxWriter's ``write``, which ``to_excel`` used, made a string
    starting with ``=`` a formula); numbers, booleans, dates and times stay typed; missing is empty;
    the read-back equals ``to_excel``'s for ordinary values."""
    from openpyxl import load_workbook

    frame = pd.DataFrame(
        {
            "member_id": ["m1", "m2", "m3"],
            "tier": ['=HYPERLINK("http://x","y")', "+1", "http://example.com"],
            "shortfall": [1.5, np.nan, 0.0],
            "rank": [1, 2, 3],
            "opt_out": [True, False, True],
            "last_purchase": [pd.Timestamp("2024-01-02").date(), None, pd.Timestamp("2023-12-31").date()],
            "seen": pd.to_datetime(["2024-01-02 10:30", None, "2024-02-01 00:00"]),
            "note": pd.array(["a", pd.NA, "c"], dtype="string"),
        }
    )
    path = tmp_path / "x.xlsx"
    exports.write_xlsx(frame, path, "list")
    ws = load_workbook(path)["list"]
    assert [c.value for c in ws[1]] == list(frame.columns) and ws["A1"].font.b
    assert ws["B2"].data_type == "s" and ws["B2"].value.startswith("=HYPERLINK") and ws["B3"].value == "+1"
    assert ws["B4"].hyperlink is None
    assert ws["C2"].value == 1.5 and ws["C3"].value is None and ws["D4"].value == 3 and ws["E2"].value is True
    assert ws["F2"].is_date and ws["F2"].value.date() == dt.date(2024, 1, 2) and ws["F3"].value is None
    assert ws["G2"].value == dt.datetime(2024, 1, 2, 10, 30) and ws["G3"].value is None and ws["H3"].value is None
    empty = frame.iloc[:0]  # a list nobody is on (e.g. no downgrade warnings): the header row alone
    exports.write_xlsx(empty, tmp_path / "empty.xlsx", "list")
    assert list(pd.read_excel(tmp_path / "empty.xlsx").columns) == list(frame.columns)
    ordinary = frame.drop(columns=["tier"])
    exports.write_xlsx(ordinary, tmp_path / "ours.xlsx", "list")
    ordinary.to_excel(tmp_path / "pandas.xlsx", index=False, sheet_name="list", engine="openpyxl")
    pd.testing.assert_frame_equal(pd.read_excel(tmp_path / "ours.xlsx"), pd.read_excel(tmp_path / "pandas.xlsx"))


@pytest.mark.slow
def test_the_reports_write_their_lists_to_the_exports_folder(small_mall, tmp_path):
    res = run_reports(
        small_mall,
        out_dir=tmp_path / "reports",
        only=["02_sleeping_members", "04_segmentation", "05_lifecycle"],
        params={"tier_thresholds": "silver:3000,gold:8000,platinum:40000"},
        jobs=2,
        log=lambda *_: None,
    )
    assert res.ok, [n.error for n in res.notebooks]
    folder = tmp_path / "exports" / res.label
    said = {}
    for nb, name in (
        ("02_sleeping_members", "sleeping_list"),
        ("05_lifecycle", "high_sleep_risk"),
        ("04_segmentation", "downgrade_warnings"),
    ):
        page = (res.out_dir / f"{nb}.html").read_text(encoding="utf-8")
        m = re.search(r"The list \(([\d,]+) members, with raw member ids\) is in .*?" + name, page)
        assert m, nb
        said[name] = int(m.group(1).replace(",", ""))
        csv = pd.read_csv(folder / f"{name}.csv", encoding="utf-8-sig")
        xl = pd.read_excel(folder / f"{name}.xlsx", engine="openpyxl")
        assert len(csv) == len(xl) == said[name]
        assert {"member_id", "tier", "last_purchase", "reason"} <= set(csv.columns)
        raw = set(csv["member_id"].astype(str))
        assert not [i for i in list(raw)[:200] if i in page], "raw ids never appear in a report"
    assert not list(res.out_dir.rglob("*.csv")) and not list(res.out_dir.rglob("*.xlsx"))  # nothing in the site
    sleeping = pd.read_csv(folder / "sleeping_list.csv", encoding="utf-8-sig")
    assert sleeping["to_contact"].dtype == bool and sleeping["reason"].notna().all()
    risky = pd.read_csv(folder / "high_sleep_risk.csv", encoding="utf-8-sig")
    assert (risky["risk"] >= 0.5).all() and risky["risk"].is_monotonic_decreasing


def test_the_reasons_in_a_list_are_in_the_reports_language(tiny_dir):
    """Column names stay codes (a CRM imports them); the words a caller reads in the cells are the
    report's language, with its number formats and display names."""
    data = load_dataset(tiny_dir, as_of="2023-12-31")
    scored = pd.DataFrame({"member_id": ["A1", "A2"], "risk": [0.91, 0.55], "recency_days": [244, 300]})
    about = pd.DataFrame({"member_id": ["A1"], "days_since": [1234]})
    down = pd.DataFrame({"member_id": ["A2"], "qualifies_for": ["silver"]})
    before = context.current()
    try:
        for lang, risk, days, pace, watch in (
            (
                "en",
                "risk of falling asleep 91%",
                "1,234 days since the last purchase",
                "yearly pace earns Silver",
                "About to sleep",
            ),
            ("zh", "沉睡风险 91%", "距上次消费已 1,234 天", "按全年消费节奏仅够 银卡", "即将沉睡"),
        ):
            context.set_current(Context(lang=lang))
            assert exports.high_risk_list(data, scored, "2023-12-31")["reason"].tolist()[0] == risk
            watched = exports.monthly_watch_list(data, about, down, "2023-12")
            assert watched["reason"].tolist() == [days, pace]
            assert watched["watch"].tolist()[0] == watch
            assert list(watched.columns[:3]) == ["member_id", "watch", "reason"]
    finally:
        context.set_current(before)
