"""The SQL screen before the pandera rules: it never passes a row those rules break, and a clean
file does skip the batches (the screen is what made validation of a million members' files
16 s -> 8 s, benchmarks/RESULTS.md)."""

import datetime as dt

import duckdb
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

from analysis.data import validation as v
from analysis.data.contract import CAMPAIGNS, TRANSACTIONS, TableSpec
from analysis.data.duckio import relation_sql

AS_OF = dt.date(2023, 12, 31)
TIERS = ("silver", "gold")

#: Text a person or a foreign system may put in a column of each kind.
TEXT = {
    "date": [
        "2023-01-05",
        " 2023-01-05",
        "2023-01-05 ",
        "2023-02-30",
        "2023-13-01",
        "2023-1-5",
        "05/01/2023",
        "2023-01-05 10:00",
        "2023-01-05T10:00:00",
        "2023-01-05 24:00:00",
        "2023-01-05 10:60",
        "2023-01-05 10:00:00.123456",
        "2023-01-05 10:00:00.1234567891",
        "2023-01-05Z",
        "2023-01-05 10:00Z",
        "2023-01-05 10:00+08:00",
        "2023-01-05 10:00:00 +0800",
        "0001-01-01",
        "1677-12-31",
        "1678-01-01",
        "2262-05-01",
        "9999-12-31",
        "2023-12-31",
        "2023-12-31 23:59:59",
        "2024-01-01",
        "２０２３-01-05",
        "٢٠٢٣-٠١-٠٥",
        "",
        "  ",
        "\u3000",
        "\x1c",
        "nan",
        "NaT",
        "None",
        "2023-01-05\n",
        "20230105",
    ],
    "amount": [
        "12.5",
        "0",
        "-5",
        "+3",
        "1e3",
        "1E-2",
        "1e400",
        "inf",
        "-inf",
        "Infinity",
        "nan",
        "NaN",
        " 12",
        "12 ",
        "1,000",
        "12,5 yuan",
        "１２",
        "٣",
        "0x10",
        "+.5",
        ".",
        "5.",
        "1_000",
        "",
        "\t",
        "\u00a0",
        "-0",
    ],
    "count": ["3", "3.0", "3.5", "1e2", "-2", "+4", "99999999999999999999", "3.", "٣", "", " 7", "7.000", "inf"],
    "bool": ["true", "TRUE", "True", "t", "1", "yes", "Y", "no", "0", "f", "F", "maybe", "ｙｅｓ", " yes", "", "\u0130", "K"],
    "tier": ["gold", " gold", "Gold", "gold ", "", "\u3000", "bronze", "silver", "gold\u00a0"],
    "id": ["a", "", " ", "\u3000", "\x1c", "\u200b", "\u180e", "x y", "\ufeff", "\u2028", "0"],
}
TEXT["timestamp"] = TEXT["date"]
TEXT["number"] = TEXT["amount"]
TEXT["str"] = TEXT["id"]


def _pandera_rows(spec, path, con):
    """Rows (0-based) the pandera column rules and the row rules break."""
    columns = [r[0] for r in con.execute(f"DESCRIBE SELECT * FROM {relation_sql(path)}").fetchall()]
    df = con.execute(f"SELECT * FROM {relation_sql(path)}").fetch_arrow_table().to_pandas()
    _, schema_errors = v._pandera()
    bad = set()
    try:
        v._schema(spec, columns, AS_OF, TIERS).validate(df, lazy=True)
    except schema_errors as err:
        fc = err.failure_cases
        bad |= {int(i) for i in fc.loc[fc["check"].notna() & fc["index"].notna(), "index"]}
    for _, _, mask in v._row_rules(spec, df):
        bad |= set(np.flatnonzero(mask.to_numpy()))
    return bad


def _screen_rows(spec, path, con):
    """Rows the screen counts as "may break" (``None``: the screen leaves the table to pandera)."""
    sql = v._screen_sql(spec, path, v.column_types(con, path), AS_OF, TIERS)
    if sql is None:
        return None
    counts = sql.split(" FROM ")[0].removeprefix("SELECT count(*), ").split(", count(*) FILTER ")
    flags = " OR ".join("(" + c.removeprefix("count(*) FILTER ").removeprefix("(WHERE ")[:-1] + ")" for c in counts)
    rows = con.execute(f"SELECT coalesce({flags}, false) FROM {relation_sql(path)}").fetchall()
    return {i for i, (flag,) in enumerate(rows) if flag}


def _check(spec, path):
    with duckdb.connect() as con:
        pandera = _pandera_rows(spec, path, con)
        screen = _screen_rows(spec, path, con)
        assert screen is not None, "the screen should decide this table"
        assert pandera <= screen, f"passed by the screen, broken for pandera: rows {sorted(pandera - screen)}"
        n = v._clean_rows(con, spec, path, v.column_types(con, path), AS_OF, TIERS)
        assert (n is None) == bool(screen)
    return pandera, screen


@pytest.mark.parametrize("kind", sorted(TEXT))
@pytest.mark.parametrize("required", [True, False])
def test_text_the_screen_passes_is_text_pandera_passes(tmp_path, kind, required):
    spec = TableSpec(name="t", required={"x": kind} if required else {"k": "id"}, optional={} if required else {"x": kind})
    values = TEXT[kind]
    path = tmp_path / "t.csv"
    pd.DataFrame({"k": [f"m{i}" for i in range(len(values))], "x": values}).to_csv(path, index=False)
    pandera, screen = _check(spec, path)
    # the screen is no blanket "may break": plain good values pass it
    good = {"date": "2023-01-05", "timestamp": "2023-01-05 10:00", "amount": "12.5", "number": "0", "count": "3"}
    good |= {"bool": "yes", "tier": "gold", "id": "a", "str": "a"}
    assert values.index(good[kind]) not in screen
    assert pandera or (kind in ("id", "str") and not required), "the hostile values include broken ones"


def _typed(tmp_path, table: pa.Table):
    path = tmp_path / "t.parquet"
    pq.write_table(table, path)
    return path


def test_typed_parquet_columns(tmp_path):
    ts = pa.array(
        [dt.datetime(2023, 1, 5), None, dt.datetime(2024, 1, 1), dt.datetime(1, 1, 1), dt.datetime(2023, 12, 31, 23, 59)]
    )
    amount = pa.array([12.5, float("nan"), None, float("inf"), -3.0])
    table = pa.table({"member_id": pa.array(["a", " ", None, "\u3000", "b"]), "ts": ts, "amount": amount})
    spec = TableSpec(name="t", required={"member_id": "id", "ts": "timestamp", "amount": "amount"})
    pandera, screen = _check(spec, _typed(tmp_path, table))
    assert pandera == {1, 2, 3} and screen >= {1, 2, 3} and 0 not in screen and 4 not in screen


@pytest.mark.parametrize("returns", ["absent", "typed"])
def test_refund_signs_on_typed_transactions(tmp_path, returns):
    cols = {
        "member_id": pa.array(["a", "b", "c", "d", "e", "f"]),
        "ts": pa.array([dt.datetime(2023, 1, d) for d in range(1, 7)]),
        "amount": pa.array([10.0, -2.0, 0.0, -1.0, 3.0, float("nan")]),
    }
    if returns == "typed":
        cols["is_return"] = pa.array([False, True, None, None, True, True])
    pandera, screen = _check(TRANSACTIONS, _typed(tmp_path, pa.table(cols)))
    assert pandera == ({3, 4, 5} if returns == "typed" else {1, 3, 5})  # 5: a NaN amount is blank
    assert 0 not in screen


def test_refund_signs_in_text(tmp_path):
    amounts = ["10", "-2", "0", "-0", " -1", "3", "", "  ", "abc", "1e400", "-1e-3", "+4"]
    returns = ["", "true", "T", " yes", "no", "1", "0", "\u0130", "maybe", "ｙ"]
    pairs = [(a, r) for a in amounts for r in returns]
    path = tmp_path / "transactions.csv"
    pd.DataFrame(
        {"member_id": "a", "ts": "2023-01-05", "amount": [a for a, _ in pairs], "is_return": [r for _, r in pairs]}
    ).to_csv(path, index=False)
    pandera, screen = _check(TRANSACTIONS, path)
    assert pairs.index(("10", "no")) not in screen and pairs.index(("-2", "true")) not in screen
    assert pairs.index(("-2", "no")) in pandera and pairs.index(("3", "T")) in pandera


def test_response_days_greater_than_zero(tmp_path):
    days = ["30", "0", "-1", "0.0", "2.5", "", "  ", "x", "1e1", "+7"]
    path = tmp_path / "campaigns.csv"
    pd.DataFrame({"campaign_id": [f"c{i}" for i in range(len(days))], "start_date": "2023-01-05", "response_days": days}).to_csv(
        path, index=False
    )
    pandera, screen = _check(CAMPAIGNS, path)
    assert {1, 2, 3} <= pandera and 0 not in screen
    for start in (pa.array([dt.date(2023, 1, 5)] * 3), pa.array([dt.datetime(2023, 1, 5)] * 3)):  # typed DATE and TIMESTAMP
        typed = pa.table({"campaign_id": ["a", "b", "c"], "start_date": start, "response_days": [30, 0, -2]})
        pandera, screen = _check(CAMPAIGNS, _typed(tmp_path, typed))
        assert pandera == screen == {1, 2}


def test_typed_dates(tmp_path):
    days = [dt.date(2023, 1, 5), None, dt.date(1, 1, 1), dt.date(9999, 12, 31), dt.date(2023, 12, 31), dt.date(2024, 1, 1)]
    spec = TableSpec(name="t", required={"d": "date"})
    pandera, screen = _check(spec, _typed(tmp_path, pa.table({"d": pa.array(days)})))
    assert pandera == screen == {1, 3, 5}


def test_count_columns_typed(tmp_path):
    spec = TableSpec(name="t", required={"x": "count"})
    pandera, screen = _check(spec, _typed(tmp_path, pa.table({"x": pa.array([3.0, 3.5, None, float("inf"), -2.0])})))
    assert pandera == {1, 2, 3} and 0 not in screen and 4 not in screen


def test_what_the_screen_leaves_to_pandera(tmp_path):
    with duckdb.connect() as con:
        zoned = pa.table({"ts": pa.array([dt.datetime(2023, 1, 5)], pa.timestamp("us", tz="Asia/Shanghai"))})
        path = _typed(tmp_path, zoned)
        assert (
            v._clean_rows(con, TableSpec(name="t", required={"ts": "timestamp"}), path, v.column_types(con, path), AS_OF, TIERS)
            is None
        )
        dec = tmp_path / "d.parquet"
        pq.write_table(pa.table({"x": pa.array([1], pa.decimal128(10, 2))}), dec)
        assert (
            v._clean_rows(con, TableSpec(name="t", required={"x": "amount"}), dec, v.column_types(con, dec), AS_OF, TIERS) is None
        )


def test_blank_is_what_python_and_arrow_strip():
    chars = [chr(c) for c in range(0x110000) if chr(c).isspace()]
    assert v._BLANK_RE == "^[" + "".join(f"\\x{{{ord(c):x}}}" for c in chars) + "]*$"
    stripped = pc.utf8_trim_whitespace(pa.array([chr(c) for c in range(0x110000) if not 0xD800 <= c <= 0xDFFF]))
    arrow_blank = {i for i, s in enumerate(stripped.to_pylist()) if s == ""}
    assert {ord(c) for c in chars} == {i if i < 0xD800 else i + 0x800 for i in arrow_blank}


def test_a_clean_folder_skips_the_batches_and_a_broken_one_gets_them(tiny_dir, monkeypatch):
    calls = []
    real = v._pandera_violations
    monkeypatch.setattr(v, "_pandera_violations", lambda *a: calls.append(a[1].name) or real(*a))
    assert v.validate_data_dir(tiny_dir, as_of="2023-12-31").ok
    assert calls == []
    df = pd.read_csv(tiny_dir / "transactions.csv", dtype=str)
    df.loc[1, "amount"] = "12,5 yuan"
    df.to_csv(tiny_dir / "transactions.csv", index=False)
    report = v.validate_data_dir(tiny_dir, as_of="2023-12-31")
    assert calls == ["transactions"]
    assert [x.examples for x in report.violations if x.column == "amount"] == [("line 3: '12,5 yuan'",)]
