"""Staging: the typed copy of a data directory in the cache that every notebook reads."""

import hashlib

import numpy as np
import pandas as pd
import pytest

from analysis.data.dataset import load_dataset, stage_dataset, stage_meta, stage_path
from analysis.statistics import clv
from analysis.statistics.features import compute_member_features

AS_OF = "2023-12-31"


def _digests(d):
    return {
        str(p.relative_to(d)): (hashlib.sha256(p.read_bytes()).hexdigest(), p.stat().st_mtime_ns)
        for p in sorted(d.rglob("*"))
        if p.is_file()
    }


def test_staged_tables_equal_the_files_and_input_is_untouched(small_mall):
    before = _digests(small_mall)
    staged = load_dataset(small_mall)
    direct = load_dataset(small_mall, stage=False)
    assert stage_path(small_mall).is_file() and stage_path(small_mall).parent != small_mall
    assert _digests(small_mall) == before  # nothing written into the data directory
    for name in ("members", "transactions", "visits", "campaigns", "contacts"):
        a = getattr(staged, name).to_pandas()
        b = getattr(direct, name).to_pandas()
        keys = [c for c in ("member_id", "ts", "campaign_id", "txn_id") if c in a.columns]
        pd.testing.assert_frame_equal(
            a.sort_values(keys).reset_index(drop=True), b.sort_values(keys).reset_index(drop=True), check_dtype=False
        )
    assert (staged.as_of, staged.fingerprint, staged.member_attributes) == (
        direct.as_of,
        direct.fingerprint,
        direct.member_attributes,
    )
    pd.testing.assert_frame_equal(compute_member_features(staged, "2023-06-30"), compute_member_features(direct, "2023-06-30"))
    pd.testing.assert_frame_equal(clv.compute_rfm_summary(staged), clv.compute_rfm_summary(direct))


def test_purchase_days_by_hand(tiny_dir):
    tx = pd.read_csv(tiny_dir / "transactions.csv")
    extra = pd.DataFrame({"txn_id": ["t5"], "member_id": ["A1"], "ts": ["2023-02-01 18:00:00"], "amount": ["9.5"]})
    pd.concat([tx.astype(str), extra]).to_csv(tiny_dir / "transactions.csv", index=False)
    days = load_dataset(tiny_dir, as_of=AS_OF).purchase_days.to_pandas().sort_values(["member_id", "day"])
    # A1 bought twice on 2023-02-01 (120.5 + 9.5) and once on 2023-05-01; A2 and A3 once each
    assert days.assign(day=days["day"].astype(str)).to_numpy().tolist() == [
        ["A1", "2023-02-01", 2, 130.0],
        ["A1", "2023-05-01", 1, 80.0],
        ["A2", "2023-03-03", 1, 35.0],
        ["A3", "2023-04-04", 1, 0.0],
    ]


def test_stage_is_reused_then_rebuilt_when_a_file_changes(tiny_dir):
    first = stage_dataset(tiny_dir)
    assert stage_dataset(tiny_dir) == first
    assert stage_meta(first)["member_attributes"] == []
    df = pd.read_csv(tiny_dir / "transactions.csv", dtype=str)
    df.loc[0, "amount"] = "121.5"
    df.to_csv(tiny_dir / "transactions.csv", index=False)
    second = stage_dataset(tiny_dir)
    assert second != first and second.is_file()
    assert not first.exists()  # the stale stage of the same directory is removed
    spend = load_dataset(tiny_dir, as_of=AS_OF).transactions.amount.sum().to_pandas()
    assert spend == pytest.approx(121.5 + 80 + 35)


def test_without_a_writable_cache_the_files_are_read_directly(tiny_dir, tmp_path, monkeypatch):
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("x")
    monkeypatch.setenv("MALLWAKE_CACHE_DIR", str(blocker))
    assert stage_dataset(tiny_dir) is None
    data = load_dataset(tiny_dir, as_of=AS_OF)
    assert data.transactions.count().to_pandas() == 4 and data.purchase_days.count().to_pandas() == 4


@pytest.mark.parametrize("column, value", [("amount", "-5"), ("ts", "not a time")])
def test_bad_data_raise_the_contract_error_and_leave_no_stage(tiny_dir, column, value):
    """Validation and staging run side by side; the broken rule is reported, not a cast error."""
    from analysis.data.validation import DataValidationError

    df = pd.read_csv(tiny_dir / "transactions.csv", dtype=str)
    df.loc[1, column] = value
    df.to_csv(tiny_dir / "transactions.csv", index=False)
    with pytest.raises(DataValidationError, match="transactions.csv"):
        load_dataset(tiny_dir, as_of=AS_OF)
    assert not stage_path(tiny_dir).exists()
    assert not list(stage_path(tiny_dir).parent.glob(f"{stage_path(tiny_dir).name.split('-')[0]}-*"))


def _days(data):
    days = data.purchase_days.to_pandas().sort_values(["member_id", "day"]).reset_index(drop=True)
    return days.assign(day=days["day"].astype(str))


def test_staged_purchase_days_equal_the_expression_with_returns(tiny_dir, tmp_path, monkeypatch):
    """The stage builds purchase_days in its own two steps: the same rows as the portable
    expression the files are read with directly (no cache), on returns of every kind."""
    rows = [  # member, ts, amount, is_return
        ("A1", "2023-02-01 10:00", "100", "false"),
        ("A1", "2023-02-01 12:00", "-30", "true"),  # on a purchase day
        ("A1", "2023-02-03 09:00", "-5", "true"),  # two returns into the same earlier day
        ("A1", "2023-02-04 09:00", "-7.25", "yes"),
        ("A1", "2023-03-10 12:00", "50", ""),
        ("A1", "2023-03-20 12:00", "-50", "1"),  # nets a day to zero
        ("A2", "2023-01-15 09:00", "-20", "true"),  # before any purchase: left out
        ("A2", "2023-02-03 09:00", "80", "no"),
        ("A2", "2023-02-03 19:00", "0", "true"),
        ("A3", "2023-04-04 18:00", "0.1", "false"),
        ("A3", "2023-04-04 18:01", "0.2", "false"),
    ]
    rng = np.random.default_rng(5)
    for i in range(400):  # and a random history with about one return in eight
        ret = rng.random() < 0.125
        day = pd.Timestamp("2023-01-01") + pd.Timedelta(minutes=int(rng.integers(0, 300 * 24 * 60)))
        amount = -round(float(rng.uniform(0, 40)), 2) if ret else round(float(rng.uniform(1, 200)), 2)
        rows.append((f"R{1 + i % 3}", str(day), str(amount), "true" if ret else "false"))
    members = pd.read_csv(tiny_dir / "members.csv", dtype=str)
    extra = pd.DataFrame({"member_id": ["R1", "R2", "R3"], "join_date": "2023-01-01", "tier": "gold", "phone_valid": "true"})
    pd.concat([members, extra]).to_csv(tiny_dir / "members.csv", index=False)
    pd.DataFrame(
        {
            "txn_id": [f"t{i}" for i in range(len(rows))],
            **dict(zip(["member_id", "ts", "amount", "is_return"], map(list, zip(*rows)))),
        }
    ).to_csv(tiny_dir / "transactions.csv", index=False)
    staged = _days(load_dataset(tiny_dir, as_of=AS_OF))
    assert stage_dataset(tiny_dir) is not None
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("x")
    monkeypatch.setenv("MALLWAKE_CACHE_DIR", str(blocker))
    direct = _days(load_dataset(tiny_dir, as_of=AS_OF))
    pd.testing.assert_frame_equal(staged, direct, check_exact=False, rtol=1e-12)
    hand = staged[staged.member_id.str.startswith("A")][["member_id", "day", "purchases", "spend"]]
    assert hand.to_numpy().tolist() == [
        ["A1", "2023-02-01", 1, pytest.approx(57.75)],
        ["A1", "2023-03-10", 1, pytest.approx(0.0)],
        ["A2", "2023-02-03", 1, 80.0],
        ["A3", "2023-04-04", 2, pytest.approx(0.3)],
    ]
