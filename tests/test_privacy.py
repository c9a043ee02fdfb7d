"""No rendered report shows a raw member id, phone number or plate from the input."""

import re

import pandas as pd
import pytest

from analysis.runner import run_months, run_reports


@pytest.mark.slow
def test_site_has_no_ids_phones_or_plates(small_mall, tmp_path):
    res = run_reports(small_mall, out_dir=tmp_path / "reports", jobs=2, log=lambda *_: None)
    assert res.ok, [n.error for n in res.notebooks]
    months = run_months(small_mall, ["2024-09"], out_dir=tmp_path / "reports", log=lambda *_: None)
    months += run_months(small_mall, ["2024-09"], out_dir=tmp_path / "reports", lang="zh", log=lambda *_: None)
    assert all(m.ok for m in months)
    members = pd.read_csv(small_mall / "members.csv", dtype=str)
    secrets = set(members["member_id"]) | set(members["phone"]) | set(members["plate"].dropna())
    pages = list((tmp_path / "reports").rglob("*.html"))
    assert len(pages) == 1 + len(res.notebooks) + 2
    for page in pages:
        text = page.read_text(encoding="utf-8")
        tokens = set(re.findall(r"[A-Za-z0-9\u4e00-\u9fff]+", text))
        leaked = tokens & secrets
        assert not leaked, f"{page.name} shows {sorted(leaked)[:5]}"
