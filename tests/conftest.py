import os
import shutil
from pathlib import Path

import matplotlib
import pandas as pd
import pytest

matplotlib.use("Agg")
os.environ.setdefault("MPLBACKEND", "Agg")


@pytest.fixture(autouse=True, scope="session")
def _private_validation_cache(tmp_path_factory):
    """Keep the validation cache of the tests out of the user's home."""
    os.environ["MALLWAKE_CACHE_DIR"] = str(tmp_path_factory.mktemp("cache"))
    os.environ["MALLWAKE_SECRET_FILE"] = str(tmp_path_factory.mktemp("config") / "secret")  # not the user's key
    os.environ.pop("MALLWAKE_SALT", None)
    # every test computes its fits (a test that patches a fitter must not read an earlier result);
    # tests/test_memo.py and the warm-run test turn the fit cache on where they test it
    os.environ["MALLWAKE_FIT_CACHE"] = "0"


from analysis.statistics.synthetic import generate_mall  # noqa: E402

SMALL_MEMBERS = 2_000


@pytest.fixture(scope="session")
def small_mall(tmp_path_factory) -> Path:
    """A generated mall of about 2,000 members (shared; copy before changing it)."""
    return generate_mall(tmp_path_factory.mktemp("mall") / "small", n_members=SMALL_MEMBERS, seed=11)


@pytest.fixture(scope="session")
def study_mall(tmp_path_factory) -> Path:
    """A generated mall of 40,000 members: waves large enough to test the planted effects (shared)."""
    return generate_mall(tmp_path_factory.mktemp("study") / "mall", n_members=40_000, seed=5)


@pytest.fixture
def tiny_dir(tmp_path) -> Path:
    """A hand-made valid data directory of three members."""
    d = tmp_path / "tiny"
    d.mkdir()
    pd.DataFrame(
        {
            "member_id": ["A1", "A2", "A3"],
            "join_date": ["2023-01-05", "2023-02-01", "2023-03-10"],
            "tier": ["gold", "normal", "silver"],
            "phone_valid": ["true", "false", "1"],
        }
    ).to_csv(d / "members.csv", index=False)
    pd.DataFrame(
        {
            "txn_id": ["t1", "t2", "t3", "t4"],
            "member_id": ["A1", "A1", "A2", "A3"],
            "ts": ["2023-02-01 10:00:00", "2023-05-01 12:30:00", "2023-03-03", "2023-04-04 18:00"],
            "amount": ["120.5", "80", "35.0", "0"],
        }
    ).to_csv(d / "transactions.csv", index=False)
    pd.DataFrame({"member_id": ["A1"], "ts": ["2023-06-01 09:00:00"], "source": ["parking"]}).to_csv(
        d / "visits.csv", index=False
    )
    pd.DataFrame({"campaign_id": ["C1"], "start_date": ["2023-06-01"], "response_days": ["30"]}).to_csv(
        d / "campaigns.csv", index=False
    )
    pd.DataFrame({"campaign_id": ["C1", "C1"], "member_id": ["A1", "A2"], "arm": ["sms", "holdout"]}).to_csv(
        d / "contacts.csv", index=False
    )
    return d


def copy_dir(src: Path, dst: Path) -> Path:
    shutil.copytree(src, dst)
    return dst
