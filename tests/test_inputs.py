"""Clear errors (and documented rules) for the inputs people really have (issue 12).

Every case: exit 2 or a warning, one message naming file, column, rule and examples.
"""

from __future__ import annotations

import pandas as pd
import pytest

from analysis.application import cli
from analysis.data.dataset import load_dataset
from analysis.data.params import ParameterError, load_data_params
from analysis.data.validation import validate_data_dir
from analysis.statistics.features import compute_member_features
from analysis.statistics.overview import compute_monthly_activity

AS_OF = "2023-12-31"


def _messages(d, **kw):
    return validate_data_dir(d, as_of=AS_OF, **kw)


def _write(d, name, frame):
    frame.to_csv(d / name, index=False)


def test_time_zone_parquet_is_read_as_wall_clock_time_in_its_zone(tiny_dir):
    tx = pd.read_csv(tiny_dir / "transactions.csv", dtype=str)
    (tiny_dir / "transactions.csv").unlink()
    local = pd.to_datetime(tx["ts"], format="ISO8601")
    tx["ts"] = local.dt.tz_localize("Asia/Shanghai")
    tx["amount"] = tx["amount"].astype(float)
    tx.to_parquet(tiny_dir / "transactions.parquet", index=False)
    report = _messages(tiny_dir)
    assert report.ok, report.messages()
    assert any("Asia/Shanghai" in w for w in report.warning_messages())
    staged = load_dataset(tiny_dir, as_of=AS_OF).transactions.order_by("txn_id").ts.to_pandas()
    assert list(staged) == list(local)  # the times as written in the mall, not shifted to UTC


def test_csv_offsets_are_refused_with_what_to_do(tiny_dir):
    tx = pd.read_csv(tiny_dir / "transactions.csv", dtype=str)
    tx.loc[1, "ts"] = "2023-05-01T12:30:00+08:00"
    _write(tiny_dir, "transactions.csv", tx)
    report = _messages(tiny_dir)
    assert [(v.column, v.n_rows) for v in report.violations] == [("ts", 1)]
    assert "time-zone offset" in report.messages()[0] and "line 3" in report.messages()[0]


def test_empty_files_say_so(tiny_dir):
    (tiny_dir / "visits.csv").write_bytes(b"")
    report = _messages(tiny_dir)
    assert report.messages() == ["visits.csv: file is empty (0 bytes): export the table with its header row"]


def test_misnamed_and_excel_files_are_named(tiny_dir):
    (tiny_dir / "members.csv").rename(tiny_dir / "Members.CSV")
    (tiny_dir / "contacts.csv").rename(tiny_dir / "contacts.xlsx")
    report = _messages(tiny_dir)
    assert any("found Members.CSV" in m and "members.csv" in m and "CSV UTF-8" in m for m in report.messages())
    # contacts are optional: an Excel file of them is named in a warning (it is not read)
    assert any("contacts.xlsx" in w and "not read" in w for w in report.warning_messages())


def test_line_numbers_count_newlines_inside_quoted_fields(tiny_dir):
    m = pd.read_csv(tiny_dir / "members.csv", dtype=str)
    m["note"] = ["two\nlines", "three\nlines\nhere", "x"]
    m.loc[2, "birth_year"] = "abc"
    _write(tiny_dir, "members.csv", m)
    # header = line 1; A1 spans lines 2-3, A2 lines 4-6, A3 starts on line 7
    text = (tiny_dir / "members.csv").read_text()
    assert text.splitlines()[6].startswith("A3")
    [msg] = _messages(tiny_dir).messages()
    assert "line 7: 'abc'" in msg


def test_one_message_per_bad_value(tiny_dir):
    m = pd.read_csv(tiny_dir / "members.csv", dtype=str)
    m.loc[1, "tier"] = "   "
    m.loc[2, "join_date"] = " "
    _write(tiny_dir, "members.csv", m)
    report = _messages(tiny_dir)
    assert sorted((v.column, v.rule) for v in report.violations) == [
        ("join_date", "must be present (not empty)"),
        ("tier", "must be present (not empty)"),
    ]


def test_examples_show_values_as_typed(tiny_dir):
    tx = pd.read_csv(tiny_dir / "transactions.csv")
    (tiny_dir / "transactions.csv").unlink()
    tx["txn_id"] = [1, 1, 2, 3]
    tx.to_parquet(tiny_dir / "transactions.parquet", index=False)
    [msg] = _messages(tiny_dir).messages()
    assert "txn_id='1' (2 times)" in msg and "np." not in msg


def test_exact_duplicate_rows_warn_and_fail_under_strict(tiny_dir, capsys):
    tx = pd.read_csv(tiny_dir / "transactions.csv", dtype=str).drop(columns="txn_id")
    _write(tiny_dir, "transactions.csv", pd.concat([tx, tx.iloc[[0]]]))
    report = _messages(tiny_dir)
    assert report.ok
    [warning] = report.warning_messages()
    assert "exact copies" in warning and "120.50" in warning and "1 row(s)" in warning
    assert not _messages(tiny_dir, strict=True).ok
    assert cli.main(["validate", str(tiny_dir), "--as-of", AS_OF]) == 0
    assert "exact copies" in capsys.readouterr().err
    assert cli.main(["validate", str(tiny_dir), "--as-of", AS_OF, "--strict"]) == 2


def test_duplicate_column_names_are_an_error(tiny_dir):
    text = (tiny_dir / "campaigns.csv").read_text().splitlines()
    text = [text[0] + ",response_days"] + [line + ",7" for line in text[1:]]
    (tiny_dir / "campaigns.csv").write_text("\n".join(text) + "\n")
    [v] = _messages(tiny_dir).violations
    assert v.column == "response_days" and "unique" in v.rule


def test_ids_with_surrounding_spaces_follow_one_rule(tiny_dir):
    c = pd.read_csv(tiny_dir / "contacts.csv", dtype=str)
    c.loc[0, "member_id"] = "  A1 "
    _write(tiny_dir, "contacts.csv", c)
    assert _messages(tiny_dir).ok  # ' A1 ' is member A1 in validation ...
    data = load_dataset(tiny_dir, as_of=AS_OF)  # ... and in the staged tables
    joined = data.contacts.join(data.members, "member_id").count().to_pandas()
    assert joined == 2
    m = pd.read_csv(tiny_dir / "members.csv", dtype=str)
    m.loc[1, "member_id"] = " A1"
    _write(tiny_dir, "members.csv", m)
    assert any("duplicate key" in msg for msg in _messages(tiny_dir).messages())


# --- refunds and returns --------------------------------------------------------------------------


def _with_returns(d):
    tx = pd.DataFrame(
        {
            "txn_id": ["t1", "t2", "t3", "t4", "t5"],
            "member_id": ["A1", "A1", "A1", "A2", "A2"],
            "ts": ["2023-02-01 10:00", "2023-02-05 11:00", "2023-03-10 12:00", "2023-02-01 09:00", "2023-02-03 09:00"],
            "amount": ["100", "-30", "50", "-20", "80"],
            "is_return": ["false", "true", "", "yes", "no"],
        }
    )
    _write(d, "transactions.csv", tx)
    return d


def test_returns_are_allowed_when_marked_and_netted(tiny_dir):
    d = _with_returns(tiny_dir)
    assert _messages(d).ok
    data = load_dataset(d, as_of=AS_OF)
    days = data.purchase_days.order_by(["member_id", "day"]).to_pandas()
    # A1: the -30 return nets into its purchase day 02-01; A2's return came before any purchase
    assert days[["member_id", "purchases", "spend"]].values.tolist() == [["A1", 1, 70.0], ["A1", 1, 50.0], ["A2", 1, 80.0]]
    f = compute_member_features(data, AS_OF, 365).set_index("member_id")
    assert f.loc["A1", "lifetime_purchases"] == 2 and f.loc["A1", "lifetime_spend"] == 120.0
    assert str(pd.Timestamp(f.loc["A1", "last_purchase"]).date()) == "2023-03-10"
    monthly = compute_monthly_activity(data).set_index("month")
    feb = monthly.loc[pd.Timestamp("2023-02-01")]
    assert (feb["purchases"], feb["spend"], feb["buyers"]) == (2, 130.0, 2)  # period totals net returns when they happen
    assert monthly["spend"].equals(monthly["spend"].round(6))  # the same total on every run (engine order)


def test_unmarked_negative_amounts_and_positive_returns_are_refused(tiny_dir):
    d = _with_returns(tiny_dir)
    tx = pd.read_csv(d / "transactions.csv", dtype=str, keep_default_na=False)
    tx.loc[1, "is_return"] = "false"
    tx.loc[4, "is_return"] = "true"
    _write(d, "transactions.csv", tx)
    msgs = _messages(d).messages()
    assert any("must not be negative" in m and "is_return" in m and "line 3: '-30'" in m for m in msgs)
    assert any("zero or negative on a return row" in m and "line 6: '80'" in m for m in msgs)


def test_an_impossible_date_in_mallwake_yaml_is_a_clear_error(tiny_dir, tmp_path, capsys):
    from analysis.application import cli

    (tiny_dir / "mallwake.yaml").write_text("list_date: 2024-13-40\n", encoding="utf-8")
    assert cli.main(["run", "--data", str(tiny_dir), "--out", str(tmp_path / "r"), "--only", "01_data_overview"]) == 2
    err = capsys.readouterr().err
    assert "mallwake.yaml" in err and "month must be in 1..12" in err and "no report written" in err
    assert not (tmp_path / "r").exists()


def test_mallwake_yaml_is_parsed_once_per_content_and_read_afresh_when_it_changes(tiny_dir):
    """A kernel's set-up asks for the data folder's settings several times: parsed once per content,
    a changed file is read at once (same size, same second), and no caller can change another's copy."""
    (tiny_dir / "mallwake.yaml").write_text("currency: A\ntarget_tier: gold\n", encoding="utf-8")
    first = load_data_params(tiny_dir)
    first["currency"] = "changed by a caller"
    assert load_data_params(tiny_dir) == {"currency": "A", "target_tier": "gold"}
    (tiny_dir / "mallwake.yaml").write_text("currency: B\ntarget_tier: gold\n", encoding="utf-8")  # same size
    assert load_data_params(tiny_dir)["currency"] == "B"
    (tiny_dir / "mallwake.yaml").write_text("currency: [\n", encoding="utf-8")
    with pytest.raises(ParameterError, match="mallwake.yaml"):
        load_data_params(tiny_dir)
