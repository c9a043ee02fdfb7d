"""Convert the public CDNOW purchase history into the data contract.

CDNOW (Fader & Hardie) has customers and purchases only: every customer becomes a member who
joined on the day of the first purchase, in the lowest tier; campaigns and contacts are empty.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

CDNOW_END = "1998-06-30"


def read_cdnow(path: str | Path) -> pd.DataFrame:
    """Read ``CDNOW_master.txt`` (4 columns) or ``CDNOW_sample.txt`` (5 columns)."""
    raw = pd.read_csv(path, sep=r"\s+", header=None, dtype=str)
    cols = (
        ["customer_id", "date", "cds", "amount"] if raw.shape[1] == 4 else ["customer_id", "sample_id", "date", "cds", "amount"]
    )
    raw.columns = cols
    return pd.DataFrame(
        {
            "member_id": "C" + raw["customer_id"].str.zfill(5),
            "ts": pd.to_datetime(raw["date"], format="%Y%m%d"),
            "amount": raw["amount"].astype(float),
            "quantity": raw["cds"].astype(int),
        }
    )


def convert_cdnow(path: str | Path, out_dir: str | Path, tier: str = "normal") -> Path:
    """Write a contract data directory from a CDNOW file; returns ``out_dir``."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    tx = read_cdnow(path)
    members = tx.groupby("member_id", as_index=False)["ts"].min().rename(columns={"ts": "join_date"})
    members["join_date"] = members["join_date"].dt.strftime("%Y-%m-%d")
    members["tier"] = tier
    members.to_csv(out / "members.csv", index=False)
    tx.assign(ts=tx["ts"].dt.strftime("%Y-%m-%d")).sort_values(["ts", "member_id"], kind="stable").to_csv(
        out / "transactions.csv", index=False
    )
    pd.DataFrame(columns=["campaign_id", "start_date", "response_days"]).to_csv(out / "campaigns.csv", index=False)
    pd.DataFrame(columns=["campaign_id", "member_id", "arm"]).to_csv(out / "contacts.csv", index=False)
    return out
