"""No value from the data, a parameter or a file name becomes live markup or SQL.

The whole site is rendered on a small mall whose every free-text field and an extra column
name hold HTML/JS payloads; every page is parsed and no payload may survive as markup.
"""

from __future__ import annotations

import shutil
from html.parser import HTMLParser
from pathlib import Path

import pandas as pd
import pytest

from analysis.application.runner import run_months, run_reports
from analysis.data.dataset import load_dataset
from analysis.data.validation import validate_data_dir
from analysis.presentation.site import CONTENT_SECURITY_POLICY

IMG = "<img src=x onerror=alert(1)>"
SCRIPT = "<script>alert(2)</script>"
SVG = "<svg onload=alert(3)>"
PAYLOAD = f"{IMG}{SVG}"


class _Tags(HTMLParser):
    def __init__(self):
        super().__init__()
        self.bad: list[str] = []
        self.csp = False

    def handle_starttag(self, tag, attrs):
        names = {k.lower() for k, _ in attrs}
        if tag in ("script", "iframe", "svg", "object", "embed") and not (tag == "svg" and not names & {"onload"}):
            self.bad.append(f"<{tag}>")
        if any(n.startswith("on") for n in names):
            self.bad.append(f"<{tag} {sorted(names)}>")
        if tag == "img" and not dict(attrs).get("src", "").startswith("data:"):
            self.bad.append(f"<img src={dict(attrs).get('src')}>")
        if tag == "meta" and dict(attrs).get("http-equiv", "").lower() == "content-security-policy":
            self.csp = dict(attrs).get("content") == CONTENT_SECURITY_POLICY


def _poison(src: Path, dst: Path) -> dict:
    """Copy ``src`` with payloads in every free-text field; return the parameters that name them."""
    d = shutil.copytree(src, dst, ignore=shutil.ignore_patterns("truth*"))
    members = pd.read_csv(d / "members.csv", dtype=str)
    members["district"] = members["district"] + PAYLOAD
    members["gender"] = members["gender"].where(members.index % 2 == 0, "F" + SCRIPT)
    members[SCRIPT] = "x" + IMG  # an extra column whose name is a payload
    members.to_csv(d / "members.csv", index=False)
    tx = pd.read_parquet(d / "transactions.parquet")
    tx["category"] = tx["category"].astype(str) + IMG
    tx["store_id"] = tx["store_id"].astype(str) + SVG
    tx.to_parquet(d / "transactions.parquet", index=False)
    visits = pd.read_parquet(d / "visits.parquet")
    visits["source"] = visits["source"].astype(str) + IMG
    visits.to_parquet(d / "visits.parquet", index=False)
    campaigns = pd.read_csv(d / "campaigns.csv", dtype=str)
    campaigns["name"] = campaigns["name"] + PAYLOAD
    campaigns["description"] = SCRIPT + campaigns["description"]
    campaigns.to_csv(d / "campaigns.csv", index=False)
    contacts = pd.read_csv(d / "contacts.csv", dtype=str)
    for col in ("arm", "gift", "channel"):
        contacts[col] = contacts[col] + IMG
    contacts.to_csv(d / "contacts.csv", index=False)
    return {
        "control_arm": "holdout" + IMG,
        "before_arm": "sms_daily" + IMG,
        "after_arm": "call_wechat_ent" + IMG,
        "gift_levels": f"daily{IMG},entertainment{IMG}",
        "channel_levels": f"sms{IMG},call_wechat{IMG}",
    }


@pytest.fixture(scope="module")
def poisoned_site(small_mall, tmp_path_factory):
    base = tmp_path_factory.mktemp("inj")
    data = base / f"mall{IMG}"
    params = _poison(small_mall, data)
    out = base / "reports"
    res = run_reports(data, out_dir=out, params=params, jobs=2, log=lambda *_: None)
    months = run_months(data, ["2024-09"], out_dir=out, log=lambda *_: None)
    months += run_months(data, ["2024-09"], out_dir=out, lang="zh", log=lambda *_: None)
    return res, months, out


@pytest.mark.slow
def test_no_payload_survives_as_markup_anywhere_in_the_site(poisoned_site):
    res, months, out = poisoned_site
    assert res.ok, [n.error for n in res.notebooks]
    assert all(m.ok for m in months)
    pages = sorted(out.rglob("*.html"))
    assert len(pages) == 4 + len(res.notebooks) + 2  # the index and the definitions (English, Chinese), the reports, two months
    shown = 0
    for page in pages:
        text = page.read_text(encoding="utf-8")
        parser = _Tags()
        parser.feed(text)
        assert parser.bad == [], f"{page.relative_to(out)}: {parser.bad[:5]}"
        assert parser.csp, f"{page.relative_to(out)} has no Content-Security-Policy"
        assert IMG not in text and SCRIPT not in text
        shown += text.count("&lt;img src=x onerror=alert(1)&gt;")
    assert shown > 0, "the payloads reach the pages (escaped), so the test exercises the escaping"


@pytest.mark.slow
def test_the_payload_reaches_the_campaign_report_as_text(poisoned_site):
    res, _, _ = poisoned_site
    page = (res.out_dir / "03_campaign_effects.html").read_text(encoding="utf-8")
    assert "holdout&lt;img src=x onerror=alert(1)&gt;" in page


def test_an_extra_column_name_cannot_inject_sql(tiny_dir):
    members = pd.read_csv(tiny_dir / "members.csv", dtype=str)
    evil = 'phone" AS "p2", (SELECT \'leak\') AS "leak'
    members[evil] = "13800000000"
    members.to_csv(tiny_dir / "members.csv", index=False)
    data = load_dataset(tiny_dir, as_of="2023-12-31")
    cols = data.members.columns
    assert "leak" not in cols and "p2" not in cols
    assert evil in cols  # kept as one oddly named attribute, nothing more
    assert validate_data_dir(tiny_dir, as_of="2023-12-31").ok
