"""The sleeping list: naive rule and every refinement rule on hand-made members."""

import pandas as pd
import pytest

from analysis.data.dataset import load_dataset
from analysis.statistics.sleeping import build_sleeping_list


@pytest.fixture
def sleepers(tmp_path):
    d = tmp_path / "s"
    d.mkdir()
    # list date 2024-01-31; sleeping = no purchase since 2023-08-04 (180 days)
    members = pd.DataFrame(
        {
            "member_id": ["awake", "sleep", "parks", "nophone", "optout", "dup1", "dup2", "silver", "never", "newbie"],
            "join_date": ["2022-01-01"] * 8 + ["2022-06-01", "2023-12-01"],
            "tier": ["gold"] * 7 + ["silver", "gold", "gold"],
            "phone_valid": [True, True, True, False, True, True, True, True, True, True],
            "wechat_bound": [False, False, False, False, False, True, False, False, True, True],
            "opt_out": [False, False, False, False, True, False, False, False, False, False],
            "phone": ["1", "2", "3", "4", "5", "66", "66", "8", "9", "10"],
        }
    )
    members.to_csv(d / "members.csv", index=False)
    tx = pd.DataFrame(
        {
            "member_id": ["awake", "sleep", "parks", "nophone", "optout", "dup1", "dup2", "silver"],
            "ts": [
                "2024-01-10",
                "2023-08-03",
                "2023-03-01",
                "2023-05-01",
                "2023-05-01",
                "2023-05-01",
                "2024-01-20",
                "2023-01-01",
            ],
            "amount": 100,
        }
    )
    tx.to_csv(d / "transactions.csv", index=False)
    pd.DataFrame({"member_id": ["parks", "sleep"], "ts": ["2024-01-05 10:00", "2023-10-01 10:00"], "source": "parking"}).to_csv(
        d / "visits.csv", index=False
    )
    pd.DataFrame(columns=["campaign_id", "start_date", "response_days"]).to_csv(d / "campaigns.csv", index=False)
    pd.DataFrame(columns=["campaign_id", "member_id", "arm"]).to_csv(d / "contacts.csv", index=False)
    return load_dataset(d, as_of="2024-01-31")


def test_naive_and_refined_lists(sleepers):
    sl = build_sleeping_list(sleepers, "2024-01-31", tier="gold", sleeping_days=180, lookback_days=90, channel="sms")
    m = sl.members.set_index("member_id")
    # awake bought recently; dup2 bought recently; silver is another tier; newbie joined < 180 days ago
    assert set(m.index) == {"sleep", "parks", "nophone", "optout", "dup1", "never"}
    assert m.loc["sleep", "days_since_purchase"] == 181  # 2023-08-03 -> 2024-01-31
    assert m.loc["never", "days_since_purchase"] == (pd.Timestamp("2024-01-31") - pd.Timestamp("2022-06-01")).days
    assert m["present"].to_dict() == {
        "dup1": False,
        "never": False,
        "nophone": False,
        "optout": False,
        "parks": True,
        "sleep": False,
    }
    assert m.loc["nophone", "unreachable"] and not m.loc["dup1", "unreachable"]
    assert m.loc["optout", "opted_out"] and m.loc["dup1", "duplicate"]
    assert set(m.index[m["refined"]]) == {"sleep", "never"}
    assert sl.naive_size == 6 and sl.refined_size == 2
    assert sl.invalid_share == pytest.approx(4 / 6) and sl.overstatement == pytest.approx(2.0)
    f = sl.funnel()
    assert f["remaining"].tolist() == [6, 5, 4, 3, 2]
    assert f["removed"].sum() == 4


def test_channel_decides_reachability(sleepers):
    by_wechat = build_sleeping_list(sleepers, "2024-01-31", channel="wechat").members.set_index("member_id")
    assert by_wechat.loc["sleep", "unreachable"] and not by_wechat.loc["never", "unreachable"]
    both = build_sleeping_list(sleepers, "2024-01-31", channel="call_wechat").members.set_index("member_id")
    assert not both.loc["sleep", "unreachable"] and both.loc["nophone", "unreachable"]


def test_bad_arguments_are_named(sleepers):
    with pytest.raises(ValueError, match="channel must be one of"):
        build_sleeping_list(sleepers, channel="pigeon")
    with pytest.raises(ValueError, match="tier 'diamond'"):
        build_sleeping_list(sleepers, tier="diamond")
